"""Typed, frozen configurations of the driving worlds, with highway-env's key names.

``make_config("highway", {"lanes_count": 3}, duration=20)`` merges a preset, a dict (e.g. ported from a
highway-env ``config={...}``) and keyword overrides. Each world has its config class (the keys its
highway-env env reads); a key the world does not use is an error, not silently ignored. A misspelt key raises with the nearest valid name; an
invalid value raises ``ValueError`` saying how to fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

#: Observation types, a closed registry (see ``envs/highway/observation.py``).
OBSERVATION_TYPES = (
    "kinematics", "occupancy_grid", "exit", "time_to_collision", "kinematics_goal", "lidar", "camera",
)  # fmt: skip
#: highway-env's DiscreteMetaAction action sets (index -> meta-action), by its longitudinal/lateral options
ACTIONS_ALL = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
ACTIONS_LONGITUDINAL = ("SLOWER", "IDLE", "FASTER")
ACTIONS_LATERAL = ("LANE_LEFT", "IDLE", "LANE_RIGHT")
#: the options of highway-env's ``{"type": "DiscreteMetaAction", ...}`` action config we take
ACTION_OPTIONS = ("target_speeds", "longitudinal", "lateral")
#: highway-env's ``{"type": "ContinuousAction", ...}`` options we take (``dynamical``, the dynamic
#: bicycle model, is not one of them)
CONTINUOUS_OPTIONS = (
    "acceleration_range",
    "steering_range",
    "speed_range",
    "longitudinal",
    "lateral",
    "clip",
)
ACTION_TYPES = ("DiscreteMetaAction", "ContinuousAction")
EPISODE_ENDS = ("highway-env", "all-agents")
ACCELERATION_RANGE = (-5.0, 5.0)  # [m/s2] highway-env ContinuousAction.ACCELERATION_RANGE
STEERING_RANGE = (-math.pi / 4, math.pi / 4)  # [rad] highway-env ContinuousAction.STEERING_RANGE
VEHICLE_SPEED_RANGE = (-40.0, 40.0)  # [m/s] highway-env Vehicle.MIN_SPEED, MAX_SPEED
DEFAULT_TARGET_SPEEDS = (20.0, 25.0, 30.0)  # [m/s] highway-env MDPVehicle.DEFAULT_TARGET_SPEEDS
#: highway-env's ``{"type": ...}`` names of the observation types, for ported configs.
HIGHWAY_ENV_OBSERVATION_NAMES = {
    "Kinematics": "kinematics",
    "OccupancyGrid": "occupancy_grid",
    "ExitObservation": "exit",
    "TimeToCollision": "time_to_collision",
    "KinematicsGoal": "kinematics_goal",
    "LidarObservation": "lidar",
}


@dataclass(frozen=True)
class ContinuousControl:
    """highway-env's ``ContinuousAction`` as the kernel applies it."""

    acceleration_range: tuple[float, float]  # [m/s2]
    steering_range: tuple[float, float]  # [rad]
    speed_range: tuple[float, float]  # [m/s]
    longitudinal: bool
    lateral: bool
    clip: bool


@dataclass(frozen=True)
class DrivingConfig:
    """What every world's config shares: time, actions, observation, camera, reward basics, rendering.

    A world's config (:class:`HighwayConfig`, :class:`MergeConfig`) adds its own keys; ``world`` names the
    world module (``envs/worlds``) that simulates it."""

    world: ClassVar[str] = ""
    # Vehicles
    controlled_vehicles: int = 1  # vehicles the policy drives, in slots 0 .. n - 1 (highway-env's key)
    # Time
    simulation_frequency: int = 15  # [Hz] physics sub-steps per second
    policy_frequency: int = 1  # [Hz] actions per second
    # Actions and observations
    target_speeds: tuple[float, ...] = (
        DEFAULT_TARGET_SPEEDS  # [m/s] ego cruise set-points (DiscreteMetaAction)
    )
    longitudinal: bool = True  # DiscreteMetaAction offers SLOWER / FASTER; ContinuousAction an acceleration
    lateral: bool = True  # DiscreteMetaAction offers LANE_LEFT / LANE_RIGHT; ContinuousAction a steering
    # ContinuousAction (action={"type": "ContinuousAction", ...}): commands in [-1, 1] mapped onto ranges
    action_type: str = "DiscreteMetaAction"
    acceleration_range: tuple[float, float] = ACCELERATION_RANGE  # [m/s2]
    steering_range: tuple[float, float] = STEERING_RANGE  # [rad]
    speed_range: tuple[float, float] | None = None  # [m/s] the ego's speed bounds (None: +/-40)
    clip: bool = True  # clip commands to [-1, 1] (False: out-of-range commands are an error)
    # highway-env's MultiAgentAction / MultiAgentObservation: a tuple of one action (observation) per
    # controlled vehicle; without them the policy drives the first and the others hold their set-points
    multi_agent_action: bool = False
    multi_agent_observation: bool = False
    # when an episode ends: "highway-env" (the world's rule: most end when the first controlled vehicle is
    # done) or "all-agents" (once every controlled vehicle is done: self-play, the PettingZoo envs)
    episode_end: str = "highway-env"
    observation: str = "kinematics"
    # highway-env's options of that observation (e.g. ``features``, ``vehicles_count``, ``absolute``), as
    # sorted (name, value) pairs; a highway-env-style ``observation={"type": ..., **options}`` fills it
    observation_options: tuple = ()
    # Camera (observation="camera", envs/highway/camera.py)
    camera_width: int = 128  # [px] along x (forward)
    camera_height: int = 32  # [px] along y, the 3 dashboard rows included
    camera_channels: int = 1  # 1 grayscale, 3 RGB
    camera_stack: int = 2  # frames per observation, newest last
    camera_scale: float = 1.0  # [px/m] rows, and columns from -camera_behind to camera_near
    camera_behind: float = 32.5  # [m] seen behind the ego
    camera_near: float = 32.5  # [m] end of the full-resolution zone ahead
    camera_far_scale: float = 1 / 3  # [px/m] columns beyond camera_near (the long-range view)
    # Reward
    collision_reward: float = -1.0
    right_lane_reward: float = 0.1
    high_speed_reward: float = 0.4
    reward_speed_range: tuple[float, float] = (20.0, 30.0)  # [m/s] speeds mapped to high_speed in [0, 1]
    # Rendering (highway-env's viewer settings)
    screen_width: int = 600  # [px]
    screen_height: int = 150  # [px]
    centering_position: tuple[float, float] = (0.3, 0.5)  # [] ego position in the frame, as a fraction
    scaling: float = 5.5  # [px/m]

    def __post_init__(self) -> None:
        _coerce_fields(self)
        problems = self._problems()
        if problems:
            raise ValueError(f"invalid {type(self).__name__}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        """Every invalid value, each with how to fix it (a world's config adds its own)."""
        problems = []
        from envs.worlds import WORLDS  # lazy: the world modules import the kernels

        problems += WORLDS[self.world].placement_problems(self)
        if self.episode_end not in EPISODE_ENDS:
            problems.append(f"episode_end={self.episode_end!r}: choose one of {EPISODE_ENDS}")
        if self.controlled_vehicles > 1 and self.observation == "camera":
            problems.append(
                f"controlled_vehicles={self.controlled_vehicles}: the camera observes one vehicle; "
                "use observation='kinematics' (or another kernel observation) for several"
            )
        if not (math.isfinite(self.scaling) and self.scaling > 0):
            problems.append(f"scaling={self.scaling}: must be a finite number > 0")
        if self.policy_frequency < 1 or self.simulation_frequency < 1:
            problems.append("simulation_frequency and policy_frequency must be integers >= 1")
        elif self.simulation_frequency < self.policy_frequency:
            problems.append(
                f"simulation_frequency={self.simulation_frequency} < policy_frequency={self.policy_frequency}: "
                "an action must last at least one physics sub-step"
            )
        if not (self.longitudinal or self.lateral):
            problems.append(
                f"longitudinal=False and lateral=False: {self.action_type} needs at least one of them"
            )
        if self.action_type not in ACTION_TYPES:
            problems.append(f"action type {self.action_type!r}: choose one of {ACTION_TYPES}")
        for name in ("acceleration_range", "steering_range", "speed_range"):
            bounds = getattr(self, name)
            if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
                problems.append(f"{name}={bounds}: need (low, high) with low < high")
        if len(self.target_speeds) < 2 or any(
            b <= a for a, b in zip(self.target_speeds, self.target_speeds[1:])
        ):
            problems.append(f"target_speeds={self.target_speeds}: need >= 2 strictly increasing speeds")
        lo, hi = self.reward_speed_range
        if not lo < hi:
            problems.append(f"reward_speed_range={self.reward_speed_range}: need low < high")
        if self.observation not in OBSERVATION_TYPES:
            problems.append(f"observation={self.observation!r}: choose one of {OBSERVATION_TYPES}")
        else:
            from envs.highway.observation import OBSERVATIONS  # lazy: it imports the simulator

            try:
                OBSERVATIONS[self.observation].kernel(self)
            except ValueError as err:
                problems.append(str(err))
        if self.camera_channels not in (1, 3) or self.camera_stack < 1:
            problems.append("camera_channels must be 1 or 3 and camera_stack >= 1")
        if self.camera_width < 8 or self.camera_height < 7:
            problems.append(f"camera {self.camera_width}x{self.camera_height}: need width >= 8, height >= 7")
        if not (self.camera_scale > 0 and self.camera_far_scale > 0 and self.camera_behind >= 0):
            problems.append("camera_scale and camera_far_scale must be > 0, camera_behind >= 0")
        for f in dataclasses.fields(self):
            if f.name.endswith("_reward") and isinstance(getattr(self, f.name), float):
                if not math.isfinite(getattr(self, f.name)):
                    problems.append(f"{f.name} must be finite")
        return problems

    # highway-env's ``env.config`` is a dict: read ours the same way (``config["lanes_count"]``,
    # ``config["observation"]["type"]``), while it stays frozen and validated
    def __getitem__(self, key: str) -> Any:
        if key == "observation":
            name = {v: k for k, v in HIGHWAY_ENV_OBSERVATION_NAMES.items()}.get(
                self.observation, self.observation
            )
            config = {"type": name, **{k: _thaw(v) for k, v in self.observation_options}}
            if self.multi_agent_observation:
                return {"type": "MultiAgentObservation", "observation_config": config}
            return config
        if key == "action":
            if self.multi_agent_action:
                return {"type": "MultiAgentAction", "action_config": self._single_action()}
            return self._single_action()
        if key not in self.keys():
            raise KeyError(f"{type(self).__name__} has no key {key!r}.{_suggest(key, self.keys())}")
        return _thaw(getattr(self, key))

    def _single_action(self) -> dict[str, Any]:
        """One controlled vehicle's action config, as highway-env writes it."""
        if self.action_type == "ContinuousAction":
            return {"type": "ContinuousAction", "acceleration_range": list(self.acceleration_range),
                    "steering_range": list(self.steering_range),
                    "speed_range": None if self.speed_range is None else list(self.speed_range),
                    "longitudinal": self.longitudinal, "lateral": self.lateral, "clip": self.clip,
                    "target_speeds": list(self.target_speeds)}  # fmt: skip
        return {"type": "DiscreteMetaAction", "target_speeds": list(self.target_speeds),
                "longitudinal": self.longitudinal, "lateral": self.lateral}  # fmt: skip

    def keys(self) -> list[str]:
        """highway-env's config keys: our fields, with ``observation``/``action`` as nested dicts."""
        hidden = {"observation_options", "target_speeds", "longitudinal", "lateral", "action_type", "clip"}
        hidden |= {"multi_agent_action", "multi_agent_observation"}
        hidden |= {"acceleration_range", "steering_range", "speed_range"}
        return [f.name for f in dataclasses.fields(self) if f.name not in hidden] + ["action"]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.keys()]

    def to_dict(self) -> dict[str, Any]:
        """A highway-env-style config dict, e.g. to make highway-env's own env of this world."""
        return dict(self.items())

    @property
    def continuous_control(self) -> ContinuousControl | None:
        """ContinuousAction's settings, resolved (None under DiscreteMetaAction)."""
        if self.action_type != "ContinuousAction":
            return None
        return ContinuousControl(
            tuple(self.acceleration_range),
            tuple(self.steering_range),
            tuple(self.speed_range or VEHICLE_SPEED_RANGE),
            self.longitudinal,
            self.lateral,
            self.clip,
        )

    @property
    def action_size(self) -> int:
        """ContinuousAction's command size: 2 (acceleration, steering), or 1 with one of them off."""
        return 2 if self.longitudinal and self.lateral else 1

    @property
    def action_names(self) -> tuple[str, ...]:
        """The meta-action of each action index, as highway-env's ``DiscreteMetaAction`` orders them."""
        if self.longitudinal and self.lateral:
            return ACTIONS_ALL
        return ACTIONS_LONGITUDINAL if self.longitudinal else ACTIONS_LATERAL

    @property
    def frames_per_action(self) -> int:
        """Physics sub-steps per policy step, ``simulation_frequency // policy_frequency`` as highway-env."""
        return int(self.simulation_frequency // self.policy_frequency)

    @property
    def dt(self) -> float:
        """[s] physics sub-step."""
        return 1 / self.simulation_frequency

    @property
    def num_vehicles(self) -> int:
        """Vehicle and object slots of an episode: the second axis of the state arrays."""
        from envs.worlds import WORLDS  # lazy: the world modules import the kernels

        return WORLDS[self.world](self).slots


@dataclass(frozen=True)
class HighwayConfig(DrivingConfig):
    """A highway episode (highway-env ``highway-v0`` / ``highway-fast-v0``). Keys follow highway-env's."""

    world: ClassVar[str] = "highway"
    # Road and traffic
    lanes_count: int = 4  # [lanes]
    vehicles_count: int = 50  # [vehicles] other than the ego vehicle
    initial_lane_id: int | None = None  # ego's lane at reset; None = uniformly random
    ego_spacing: float = 2.0  # [] ratio of the ego's spawn gap to the default gap
    vehicles_density: float = 1.0  # [] traffic density; NPC spawn gaps scale with 1 / density
    check_npc_collisions: bool = True  # highway-fast-v0 only checks collisions involving the ego
    duration: float = 40.0  # [s] episode length before truncation
    # Reward
    lane_change_reward: float = 0.0  # accepted for ported configs; unused, exactly as in highway-env
    normalize_reward: bool = True
    offroad_terminal: bool = False

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if self.lanes_count < 1:
            problems.append(f"lanes_count={self.lanes_count}: need at least 1 lane")
        if self.vehicles_count < 0:
            problems.append(f"vehicles_count={self.vehicles_count}: must be >= 0")
        if self.initial_lane_id is not None and not 0 <= self.initial_lane_id < self.lanes_count:
            problems.append(
                f"initial_lane_id={self.initial_lane_id}: must be None or in [0, {self.lanes_count - 1}]"
            )
        for name in ("ego_spacing", "vehicles_density", "duration"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name}={value}: must be a finite number > 0")
        if self.normalize_reward and self.collision_reward == self.high_speed_reward + self.right_lane_reward:
            problems.append(
                "normalize_reward maps [collision_reward, high_speed+right_lane] to [0, 1]: they must differ"
            )
        return problems

    @property
    def num_vehicles(self) -> int:
        """Ego plus NPCs: the second axis of the state arrays."""
        return self.vehicles_count + 1

    @property
    def max_episode_steps(self) -> int:
        return math.ceil(self.duration * self.policy_frequency - 1e-9)


@dataclass(frozen=True)
class MergeConfig(DrivingConfig):
    """A highway merge (highway-env ``merge-v0``): the ego on a two-lane highway meets a vehicle merging
    from an access ramp. Keys follow highway-env's; the road and its five vehicles are fixed."""

    world: ClassVar[str] = "merge"
    high_speed_reward: float = 0.2
    merging_speed_reward: float = -0.5  # per merging-lane vehicle, times its relative speed deficit
    lane_change_reward: float = -0.05  # per LANE_LEFT / LANE_RIGHT action

    def _problems(self) -> list[str]:
        problems = super()._problems()
        lo = self.collision_reward + self.merging_speed_reward
        if lo == self.high_speed_reward + self.right_lane_reward:
            problems.append(
                "the reward maps [collision+merging_speed, high_speed+right_lane] to [0, 1]: they must differ"
            )
        return problems


def _suggest(name: str, valid: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(valid), n=1)
    return f" Did you mean {match[0]!r}?" if match else ""


def _freeze(value: Any) -> Any:
    """A hashable copy of a config value: lists become tuples, dicts sorted (key, value) tuples."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """A config value as highway-env keeps it: tuples of pairs back to dicts, other tuples to lists."""
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return {k: _thaw(v) for k, v in value}
        return [_thaw(v) for v in value]
    return value


def _observation_changes(value: Any) -> dict[str, Any]:
    """highway-env's ``{"type": "Kinematics", **options}`` (or a type name) -> our config fields."""
    if isinstance(value, Mapping) and value.get("type") == "MultiAgentObservation":
        unknown = sorted(set(value) - {"type", "observation_config"})
        if unknown:
            raise ValueError(f"MultiAgentObservation options {unknown}: it takes only 'observation_config'")
        return {
            **_observation_changes(value.get("observation_config", "Kinematics")),
            "multi_agent_observation": True,
        }
    if isinstance(value, Mapping):
        options = {k: v for k, v in value.items() if k != "type"}
        kind = value.get("type")
    else:
        options, kind = {}, value
    kind = HIGHWAY_ENV_OBSERVATION_NAMES.get(kind, kind)
    if kind not in OBSERVATION_TYPES:
        raise ValueError(
            f"observation type {value!r}: choose one of {sorted(HIGHWAY_ENV_OBSERVATION_NAMES)} "
            f"(highway-env names) or {OBSERVATION_TYPES}"
        )
    if kind == "camera" and options:
        raise ValueError(f"the camera takes its options as camera_* config keys, not {sorted(options)}")
    return {"observation": kind, "observation_options": _freeze(options), "multi_agent_observation": False}


def _action_changes(value: Any) -> dict[str, Any]:
    """highway-env's ``{"type": "DiscreteMetaAction", "target_speeds": ..., "longitudinal": ...,
    "lateral": ...}`` or ``{"type": "ContinuousAction", "acceleration_range": ..., ...}`` -> our config
    fields; other action types and options raise, naming them."""
    if isinstance(value, str):
        value = {"type": value}
    if isinstance(value, Mapping) and value.get("type") == "MultiAgentAction":
        unknown = sorted(set(value) - {"type", "action_config"})
        if unknown:
            raise ValueError(f"MultiAgentAction options {unknown}: it takes only 'action_config'")
        return {
            **_action_changes(value.get("action_config", "DiscreteMetaAction")),
            "multi_agent_action": True,
        }
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind not in ACTION_TYPES:
        raise ValueError(
            f"action={value!r}: the supported types are {list(ACTION_TYPES)} (or MultiAgentAction of one of them)"
        )
    options = {k: v for k, v in value.items() if k != "type"}
    # highway-env's racetrack-v0 config gives ContinuousAction target_speeds, which it ignores: so do we
    known = ACTION_OPTIONS if kind == "DiscreteMetaAction" else (*CONTINUOUS_OPTIONS, "target_speeds")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"{kind} options {unknown} are not supported; supported: {list(known)}")
    # the dict replaces the world's whole action config, as in highway-env: options it leaves out take
    # the action type's defaults (MDPVehicle's target speeds), not the world's
    defaults = {
        "multi_agent_action": False,
        "action_type": kind,
        "longitudinal": True,
        "lateral": True,
        "target_speeds": DEFAULT_TARGET_SPEEDS,
    }
    if kind == "ContinuousAction":
        defaults |= {"acceleration_range": ACCELERATION_RANGE, "steering_range": STEERING_RANGE}
        defaults |= {"speed_range": None, "clip": True}
    return {**defaults, **options}


def _normalise_value(key: str, value: Any) -> Any:
    """Accept lists where we keep tuples."""
    if isinstance(value, list):
        return tuple(value)
    return value


def make_config(
    preset: str = "highway", config: DrivingConfig | Mapping[str, Any] | None = None, **overrides
) -> DrivingConfig:
    """Build a config from a preset name, then a config (dataclass or dict), then keyword overrides.

    The preset fixes the world (its config class); a config dataclass passed as ``config`` replaces the
    preset entirely."""
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.{_suggest(preset, PRESETS)}"
        )
    base = config if isinstance(config, DrivingConfig) else PRESETS[preset]
    changes: dict[str, Any] = {}
    if isinstance(config, Mapping):
        changes.update(config)
    elif config is not None and not isinstance(config, DrivingConfig):
        raise TypeError(
            f"config must be a {type(base).__name__}, a dict or None, not {type(config).__name__}"
        )
    changes.update(overrides)
    fields = {f.name for f in dataclasses.fields(base)}
    action = changes.pop("action", None)
    if action is not None:
        changes.update(_action_changes(action))
    for key in changes:
        if key not in fields:
            raise KeyError(
                f"unknown {base.world} config key {key!r}.{_suggest(key, fields)} Valid keys: {sorted(fields)}"
            )
    if "observation" in changes:  # a new observation type drops the options of the previous one
        options = changes.pop("observation_options", None)
        changes.update(_observation_changes(changes["observation"]))
        if options is not None and not changes["observation_options"]:
            changes["observation_options"] = _freeze(dict(options))
    elif "observation_options" in changes:
        changes["observation_options"] = _freeze(dict(changes["observation_options"]))
    changes = {k: _normalise_value(k, v) for k, v in changes.items()}
    return dataclasses.replace(base, **changes)


def _coerce_fields(cfg: DrivingConfig) -> None:
    """Coerce strings (from a command line) and ints to the declared field types, or raise ValueError."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        new = _coerce(f.name, value, hints[f.name])
        if new is not value:
            object.__setattr__(cfg, f.name, new)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            return None
        return _coerce(name, value, args[0])
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        try:
            return tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r}: expected a sequence of numbers") from None
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return value.lower() in ("true", "1")
            if not isinstance(value, bool | int):
                raise ValueError
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            if isinstance(value, bool):
                raise ValueError
            return int(value) if not isinstance(value, int) else value
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value) if not isinstance(value, float) else value
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected {hint.__name__}") from None
    if hint is str and not isinstance(value, str):
        raise ValueError(f"{name}={value!r}: expected a string")
    return value


@dataclass(frozen=True)
class ExitConfig(DrivingConfig):
    """A highway exit (highway-env ``exit-v0``): reach the exit lane of a six-lane highway before it ends.
    Keys follow highway-env's; its default observation is ``ExitObservation`` (observation="exit")."""

    world: ClassVar[str] = "exit"
    lanes_count: int = 6  # [lanes] before and after the exit section (one more along it)
    vehicles_count: int = 20  # [vehicles] other than the ego vehicle
    vehicles_density: float = 1.5  # [] NPC spawn gaps scale with 1 / density
    ego_spacing: float = 2.0  # [] ratio of the ego's spawn gap to the default gap
    duration: float = 18.0  # [s] episode length before truncation
    simulation_frequency: int = 5
    target_speeds: tuple[float, ...] = (18.0, 24.0, 30.0)
    observation: str = "exit"
    observation_options: tuple = (
        ("clip", False),
        ("features", ("presence", "x", "y", "vx", "vy", "cos_h", "sin_h")),
        ("vehicles_count", 15),
    )
    collision_reward: float = 0.0
    high_speed_reward: float = 0.1
    right_lane_reward: float = 0.0
    goal_reward: float = 1.0  # on the exit lane (target lane)
    normalize_reward: bool = True  # map [collision_reward, goal_reward] to [0, 1], then clip
    scaling: float = 5.0

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if self.lanes_count < 2 or self.vehicles_count < 0:
            problems.append(
                f"lanes_count={self.lanes_count}, vehicles_count={self.vehicles_count}: need >= 2 lanes "
                "(traffic spawns on lanes 1 and up) and >= 0 vehicles"
            )
        for name in ("ego_spacing", "vehicles_density", "duration"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name}={value}: must be a finite number > 0")
        if self.normalize_reward and self.collision_reward == self.goal_reward:
            problems.append(
                "normalize_reward maps [collision_reward, goal_reward] to [0, 1]: they must differ"
            )
        return problems

    @property
    def num_vehicles(self) -> int:
        return self.vehicles_count + 1


@dataclass(frozen=True)
class RoundaboutConfig(DrivingConfig):
    """A roundabout (highway-env ``roundabout-v0``): enter a two-lane roundabout from the south and leave it
    to the north among four IDM vehicles with random destinations. Keys follow highway-env's."""

    world: ClassVar[str] = "roundabout"
    incoming_vehicle_destination: int | None = None  # the ring vehicle's exit: 0 east, 1 south, 2 north
    duration: float = 11.0  # [s] episode length before truncation
    target_speeds: tuple[float, ...] = (0.0, 8.0, 16.0)
    observation_options: tuple = (
        ("absolute", True),
        (
            "features_range",
            (("vx", (-15.0, 15.0)), ("vy", (-15.0, 15.0)), ("x", (-100.0, 100.0)), ("y", (-100.0, 100.0))),
        ),
    )
    high_speed_reward: float = 0.2  # times the ego's speed index over 2
    right_lane_reward: float = 0.0  # accepted for ported configs; unused, exactly as in highway-env
    lane_change_reward: float = -0.05  # per LANE_LEFT / LANE_RIGHT action
    normalize_reward: bool = True  # map [collision_reward, high_speed_reward] to [0, 1]
    camera_height: int = 64  # [px] +/-30 m to the sides: the ring (radius 20 m) and its traffic in view
    screen_width: int = 600
    screen_height: int = 600
    centering_position: tuple[float, float] = (0.5, 0.6)

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if self.incoming_vehicle_destination is not None and self.incoming_vehicle_destination not in (
            0,
            1,
            2,
        ):
            problems.append(
                f"incoming_vehicle_destination={self.incoming_vehicle_destination}: None, or 0 (east), "
                "1 (south), 2 (north)"
            )
        if not (math.isfinite(self.duration) and self.duration > 0):
            problems.append(f"duration={self.duration}: must be a finite number > 0")
        if self.normalize_reward and self.collision_reward == self.high_speed_reward:
            problems.append(
                "normalize_reward maps [collision_reward, high_speed_reward] to [0, 1]: they must differ"
            )
        return problems


@dataclass(frozen=True)
class RacetrackConfig(DrivingConfig):
    """A racetrack (highway-env ``racetrack-v0``): keep a closed two-lane circuit's lane by steering alone
    (ContinuousAction, constant speed), behind an IDM vehicle, seen through an OccupancyGrid of presence
    and road. Keys follow highway-env's."""

    world: ClassVar[str] = "racetrack"
    other_vehicles: int = 1  # [vehicles] the one ahead, plus a random number of up to other_vehicles - 1
    duration: float = 300.0  # [s] episode length before truncation
    policy_frequency: int = 5
    action_type: str = "ContinuousAction"
    longitudinal: bool = False
    lateral: bool = True
    target_speeds: tuple[float, ...] = (
        0.0,
        5.0,
        10.0,
    )  # in highway-env's action config; ContinuousAction ignores it
    observation: str = "occupancy_grid"
    observation_options: tuple = (
        ("align_to_vehicle_axes", True),
        ("as_image", False),
        ("features", ("presence", "on_road")),
        ("grid_size", ((-18.0, 18.0), (-18.0, 18.0))),
        ("grid_step", (3.0, 3.0)),
    )
    collision_reward: float = -1.0
    lane_centering_cost: float = 4.0  # [1/m^2] lane_centering_reward is 1 / (1 + cost * lateral^2)
    lane_centering_reward: float = 1.0
    action_reward: float = -0.3  # times the norm of the command
    speed_limit: float = 10.0  # [m/s] accepted for ported configs; racetrack-v0's road fixes 10 m/s itself
    terminate_off_road: bool = True
    screen_width: int = 600
    screen_height: int = 600
    centering_position: tuple[float, float] = (0.5, 0.5)

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if self.other_vehicles < 0:
            problems.append(f"other_vehicles={self.other_vehicles}: must be >= 0")
        if not (math.isfinite(self.duration) and self.duration > 0):
            problems.append(f"duration={self.duration}: must be a finite number > 0")
        if not (math.isfinite(self.lane_centering_cost) and self.lane_centering_cost >= 0):
            problems.append(f"lane_centering_cost={self.lane_centering_cost}: must be a finite number >= 0")
        if self.collision_reward == 1.0:
            problems.append("the reward maps [collision_reward, 1] to [0, 1]: collision_reward must not be 1")
        return problems


@dataclass(frozen=True)
class ParkingConfig(DrivingConfig):
    """A parking lot (highway-env ``parking-v0``): drive from the middle of the aisle into a goal spot,
    with the goal's pose and heading to match (ContinuousAction: acceleration and steering), seen
    through KinematicsGoal's observation / achieved_goal / desired_goal. Keys follow highway-env's."""

    world: ClassVar[str] = "parking"
    vehicles_count: int = 0  # [vehicles] parked in random free spots
    add_walls: bool = True  # four walls around the 70 x 42 m lot
    duration: float = 100.0  # [s] episode length before truncation
    policy_frequency: int = 5
    action_type: str = "ContinuousAction"
    observation: str = "kinematics_goal"
    observation_options: tuple = (
        ("features", ("x", "y", "vx", "vy", "cos_h", "sin_h")),
        ("normalize", False),
        ("scales", (100.0, 100.0, 5.0, 5.0, 1.0, 1.0)),
    )
    # weights of |achieved - desired| per goal feature (x, y, vx, vy, cos_h, sin_h) in the reward
    reward_weights: tuple[float, ...] = (1.0, 0.3, 0.0, 0.0, 0.02, 0.02)
    success_goal_reward: float = 0.12  # success when the goal reward exceeds -success_goal_reward
    collision_reward: float = -5.0
    screen_width: int = 600
    screen_height: int = 300
    centering_position: tuple[float, float] = (0.5, 0.5)
    scaling: float = 7.0

    def _problems(self) -> list[str]:
        from envs.worlds.parking import SPOTS  # lazy: the world modules import the kernels

        problems = super()._problems()
        free = 2 * SPOTS - 2  # the ego's spot and the goal's are never parked in
        if not 0 <= self.vehicles_count <= free:
            problems.append(
                f"vehicles_count={self.vehicles_count}: the lot has {2 * SPOTS} spots, the ego's and the "
                f"goal's leave 0 to {free} for parked vehicles"
            )
        if len(self.reward_weights) != 6 or not all(math.isfinite(w) and w >= 0 for w in self.reward_weights):
            problems.append(
                f"reward_weights={self.reward_weights}: need 6 finite weights >= 0, one per goal feature "
                "(x, y, vx, vy, cos_h, sin_h)"
            )
        if not (math.isfinite(self.success_goal_reward) and self.success_goal_reward > 0):
            problems.append(f"success_goal_reward={self.success_goal_reward}: must be a finite number > 0")
        if not (math.isfinite(self.duration) and self.duration > 0):
            problems.append(f"duration={self.duration}: must be a finite number > 0")
        return problems


@dataclass(frozen=True)
class IntersectionConfig(DrivingConfig):
    """A four-way intersection (highway-env ``intersection-v0``): cross it from the south to the
    ``destination`` exit among IDM traffic that arrives during the episode and gives way by lane priority.
    Longitudinal meta-actions only (SLOWER, IDLE, FASTER). Keys follow highway-env's."""

    world: ClassVar[str] = "intersection"
    destination: str | None = "o1"  # the ego's exit: o1 west, o2 north, o3 east (None: random of the three)
    initial_vehicle_count: int = 10  # [vehicles] spawn attempts before the ego arrives (challenger included)
    spawn_probability: float = 0.6  # chance of a new vehicle after each policy step
    duration: float = 13.0  # [s] episode length before truncation
    target_speeds: tuple[float, ...] = (0.0, 4.5, 9.0)
    lateral: bool = False
    observation_options: tuple = (
        ("absolute", True),
        ("features", ("presence", "x", "y", "vx", "vy", "cos_h", "sin_h")),
        (
            "features_range",
            (("vx", (-20.0, 20.0)), ("vy", (-20.0, 20.0)), ("x", (-100.0, 100.0)), ("y", (-100.0, 100.0))),
        ),
        ("vehicles_count", 15),
    )
    collision_reward: float = -5.0
    high_speed_reward: float = 1.0
    arrived_reward: float = 1.0  # the whole reward of a step on which the ego has arrived
    reward_speed_range: tuple[float, float] = (7.0, 9.0)
    right_lane_reward: float = 0.0  # accepted for ported configs; unused, exactly as in highway-env
    normalize_reward: bool = False  # map [collision_reward, arrived_reward] to [0, 1]
    offroad_terminal: bool = False
    camera_height: int = 64
    screen_width: int = 600
    screen_height: int = 600
    centering_position: tuple[float, float] = (0.5, 0.6)
    scaling: float = 5.5 * 1.3

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if self.destination is not None and self.destination not in ("o0", "o1", "o2", "o3"):
            problems.append(
                f"destination={self.destination!r}: None (random), or an exit node o1 (west), o2 (north), "
                "o3 (east) or o0 (back south)"
            )
        if not 1 <= self.initial_vehicle_count <= 40:
            problems.append(f"initial_vehicle_count={self.initial_vehicle_count}: must be 1 to 40")
        if not (math.isfinite(self.spawn_probability) and 0 <= self.spawn_probability <= 1):
            problems.append(f"spawn_probability={self.spawn_probability}: must be in [0, 1]")
        if not (math.isfinite(self.duration) and self.duration > 0):
            problems.append(f"duration={self.duration}: must be a finite number > 0")
        if self.longitudinal is False and self.action_type == "DiscreteMetaAction":
            problems.append("longitudinal=False: the intersection's ego only changes speed (lateral=False)")
        if self.normalize_reward and self.collision_reward == self.arrived_reward:
            problems.append(
                "normalize_reward maps [collision_reward, arrived_reward] to [0, 1]: they must differ"
            )
        return problems


#: Presets reproducing highway-env's ``highway-v0``, ``highway-fast-v0``, ``merge-v0``, ``exit-v0``,
#: ``roundabout-v0``, ``racetrack-v0``, ``parking-v0``, ``intersection-v0`` and
#: ``intersection-multi-agent-v0`` defaults.
PRESETS: dict[str, DrivingConfig] = {
    "highway": HighwayConfig(),
    "highway-fast": HighwayConfig(
        lanes_count=3,
        vehicles_count=20,
        duration=30.0,
        simulation_frequency=5,
        ego_spacing=1.5,
        check_npc_collisions=False,
    ),
    "merge": MergeConfig(),
    "exit": ExitConfig(),
    "roundabout": RoundaboutConfig(),
    "racetrack": RacetrackConfig(),
    "parking": ParkingConfig(),
    "intersection": IntersectionConfig(),
    # self-play on highway-fast-v0's road: all 21 vehicles are driven by the policy (no IDM/MOBIL traffic),
    # placed as highway-env places controlled vehicles, 1 m/s-apart gaps like its traffic (ego_spacing 1);
    # an episode lasts until every vehicle has crashed or the 30 s are up
    "highway-self-play": HighwayConfig(
        lanes_count=3,
        vehicles_count=0,
        controlled_vehicles=21,
        duration=30.0,
        simulation_frequency=5,
        ego_spacing=1.0,
        episode_end="all-agents",
    ),
    # intersection-multi-agent-v0: two controlled vehicles (from the south and the west), one action and
    # one observation each, the reward their mean
    "intersection-multi-agent": IntersectionConfig(
        controlled_vehicles=2, multi_agent_action=True, multi_agent_observation=True
    ),
}
