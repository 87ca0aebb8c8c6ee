"""The host side of the simulator: arrays, recorded kernel launches, threads, scenes, and torch exchange.

:class:`Simulator` owns every array of ``num_envs`` episodes of one world on one device, and advances
them with the fused kernel of ``envs/physics/kernel.py``. The single env and the vector env are thin
Gymnasium wrappers around it.

- CPU: the Warp arrays alias NumPy arrays (``sim.host[name]``), so actions go in and observations come
  out without copies. A batch is cut into ``threads`` slices, each a recorded launch; the launches
  release the GIL, so two threads use two cores. Envs are independent: results do not depend on the
  slicing (tested).
- CUDA: the arrays live on the device; ``sim.torch(name)`` views them as torch tensors
  (``wp.to_torch``, no copy) and launches go on torch's current stream, so agents training on the
  GPU keep their loop free of host copies. Errors the kernel flags are read every
  :data:`CUDA_ERROR_CHECK_EVERY` steps (one host read), not every step.
- Launches are recorded once (``record_cmd=True``): a step costs one ``launch()`` per slice.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.device import init_warp, warp_device
from envs.physics.kernel import step_kernel
from envs.physics.regulation import PRED_SIZE
from envs.physics.scene import BOOL_FIELDS, FLOAT_FIELDS, INT_FIELDS, Scene
from envs.physics.traffic import META_ACTIONS, idm_params

#: Slices of a CPU batch stepped in parallel threads (one per core by default).
DEFAULT_THREADS = int(os.environ.get("AUTODRIVE_THREADS", str(min(2, os.cpu_count() or 1))))
#: A batch is sliced only from this many vehicle sub-steps per slice: below, a thread hand-off
#: (~20 us) costs more than it saves.
MIN_WORK_PER_THREAD = 2_000
CUDA_ERROR_CHECK_EVERY = 64
PRECISIONS = {"float32": (wp.float32, np.float32), "float64": (wp.float64, np.float64)}
ACTION_NAMES = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
#: when an episode ends: highway-env's rule for the world, or once every controlled vehicle is done
EPISODE_ENDS = {"highway-env": st.END_HIGHWAY_ENV, "all-agents": st.END_ALL_AGENTS}
_KINDS = {"f": None, "i": np.int32, "b": np.bool_, "d": np.float64}


class Simulator:
    """``num_envs`` episodes of ``world`` observed by ``observation`` (``envs/physics/observe.py``)."""

    def __init__(
        self,
        world: Any,
        observation: Any,
        num_envs: int,
        device: str = "cpu",
        precision: str = "float32",
        autoreset: bool = True,
        threads: int | None = None,
        actions: Sequence[str] = ACTION_NAMES,
        trace: bool = False,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs}: need at least one env")
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}: choose one of {sorted(PRECISIONS)}")
        init_warp()
        cfg = world.cfg
        self.agents = int(cfg.controlled_vehicles)  # controlled vehicles, in slots 0 .. agents - 1
        self.world, self.observation, self.cfg = world, observation, cfg
        self.num_envs, self.slots = int(num_envs), world.slots
        self.device = warp_device(device)
        self.precision = precision
        self.F, self.np_float = PRECISIONS[precision]
        self.network = world.network()
        self.lane_names = self.network.lane_indexes()
        self.road_names = self.network.roads()
        tables = self.network.tables()
        self.num_lanes = tables.num_lanes
        self.obs_shape = tuple(observation.shape)
        self.action_names = tuple(actions)
        unknown = [a for a in actions if a not in META_ACTIONS]
        if unknown:
            raise ValueError(f"unknown meta-actions {unknown}; known: {sorted(META_ACTIONS)}")
        self._is_cuda = self.device.startswith("cuda")
        self._torch_stream = None
        self.host: dict[str, np.ndarray] = {}  # CPU only: NumPy views of every array
        self.arrays: dict[str, wp.array] = {}
        b, n, lanes = self.num_envs, self.slots, self.num_lanes
        for name, kind in st.VEHICLE_FIELDS.items():
            self._alloc(name, (b, n), kind)
        for name in ("route_road", "route_lane"):
            self._alloc(name, (b, n, world.route_capacity), "i")
        # predicted poses for right-of-way checks: only a regulated road needs room for them
        self._alloc("pred", (b, n, PRED_SIZE) if world.regulation_frequency else (1, 1, 1), "f")
        self._alloc("mem_n", (b, lanes), "i")
        self._alloc("mem_j", (b, lanes, n), "i")
        self._alloc("mem_s", (b, lanes, n), "f")
        for name, kind in st.EPISODE_FIELDS.items():
            self._alloc(name, (b,), kind)
        size = int(np.prod(self.obs_shape)) or 1
        ba = b * self.agents  # per-agent rows: env e's agent k is row e * agents + k
        for name, shape, dtype in (
            ("reward", (b,), np.float32), ("terminated", (b,), np.bool_), ("truncated", (b,), np.bool_),
            ("obs", (ba, size), np.float32), ("terms", (ba, len(world.reward_terms)), np.float32),
            ("rewards", (ba,), np.float32), ("dones", (ba,), np.bool_),
            ("ego_speed", (ba,), np.float32), ("ego_crashed", (ba,), np.bool_), ("action", (ba,), np.int32),
            ("commands", (ba, 2), np.float32),  # continuous actions (ContinuousAction), in [-1, 1] units
        ):  # fmt: skip
            self._alloc(name, shape, dtype)
        frames = int(cfg.frames_per_action)
        self.trace_shape = (
            (frames, n, 4) if trace else None
        )  # per env: sub-step, slot, (x, y, heading, crashed)
        self._alloc("trace", (b, frames * n if trace else 1, 4), np.float32)
        self._road = self._road_struct(tables)
        self._params = [self._params_struct(live, autoreset, trace) for live in (0, 1)]
        self.kernel = step_kernel(self.F, world.funcs, observation.name)
        work = self.slots * cfg.frames_per_action
        slices = (
            1
            if self._is_cuda
            else max(1, min(threads or DEFAULT_THREADS, b * work // MIN_WORK_PER_THREAD, b))
        )
        bounds = np.linspace(0, b, slices + 1).astype(int)
        self._cmds = [
            [self._record(int(lo), int(hi), params) for lo, hi in zip(bounds[:-1], bounds[1:])]
            for params in self._params
        ]
        self._pool = ThreadPoolExecutor(slices - 1, thread_name_prefix="autodrive") if slices > 1 else None
        self._steps = 0
        self.seed(None)

    # arrays -------------------------------------------------------------------------------------
    def _alloc(self, name: str, shape: tuple[int, ...], kind: Any) -> None:
        dtype = self.np_float if kind == "f" else _KINDS.get(kind, kind)
        host = np.zeros(shape, dtype)
        if self._is_cuda:
            self.arrays[name] = wp.array(host, device=self.device)
        else:
            self.arrays[name] = wp.array(host, device="cpu", copy=False)  # aliases the NumPy memory
            self.host[name] = host

    def _road_struct(self, tables: Any) -> Any:
        S = st.make_structs(self.F)
        road = S.Road()
        for name, arr in tables.arrays().items():
            dtype = self.F if arr.dtype == np.float64 else wp.int32
            setattr(
                road,
                {"lane_f": "lf", "lane_i": "li"}.get(name, name),
                wp.array(arr, dtype=dtype, device=self.device),
            )
        return road

    def _params_struct(self, live: int, autoreset: bool, trace: bool) -> Any:
        cfg, S = self.cfg, st.make_structs(self.F)
        p = S.Params()
        p.dt = self.F(cfg.dt)
        p.frames = int(cfg.frames_per_action)
        p.policy_dt = wp.float64(1.0 / cfg.policy_frequency)
        p.duration = wp.float64(self.world.duration)
        p.live = live
        p.autoreset = int(autoreset)
        p.trace = int(trace)
        p.agents = self.agents
        p.shared_reward = int(self.world.shared_reward)
        p.episode_end = EPISODE_ENDS[cfg.episode_end]
        control = cfg.continuous_control  # None for meta-actions
        p.continuous = int(control is not None)
        control_f, control_i = np.zeros(6), np.zeros(3, np.int32)
        if control is not None:
            control_f = np.array([*control.acceleration_range, *control.steering_range, *control.speed_range])
            control_i = np.array([control.longitudinal, control.lateral, control.clip], np.int32)
        p.regulation = self.world.regulation_period(cfg.dt)
        world_f, world_i = self.world.params()
        obs_f, obs_i = self.observation.params(self.network)
        for name, arr, dtype in (
            ("actions", np.array([META_ACTIONS[a] for a in self.action_names], np.int32), wp.int32),
            ("target_speeds", np.array(cfg.target_speeds, np.float64), self.F),
            ("idm", idm_params(self.world.idm), self.F),
            ("control_f", control_f.astype(np.float64), self.F), ("control_i", control_i, wp.int32),
            ("world_f", world_f, self.F), ("world_i", world_i, wp.int32),
            ("obs_f", obs_f, self.F), ("obs_i", obs_i, wp.int32),
        ):  # fmt: skip
            setattr(p, name, wp.array(arr, dtype=dtype, device=self.device))
        return p

    def _record(self, lo: int, hi: int, params: Any) -> Any:
        S = st.make_structs(self.F)
        a = self.arrays
        v, ep, out = S.Vehicles(), S.Episodes(), S.Outputs()
        for name in (*st.VEHICLE_FIELDS, "route_road", "route_lane", "mem_n", "mem_j", "mem_s"):
            setattr(v, name, a[name][lo:hi])
        v.pred = a["pred"][lo:hi] if self.world.regulation_frequency else a["pred"]
        for name in st.EPISODE_FIELDS:
            setattr(ep, name, a[name][lo:hi])
        for name in ("reward", "terminated", "truncated", "trace"):
            setattr(out, name, a[name][lo:hi])
        rows = slice(lo * self.agents, hi * self.agents)
        for name in ("obs", "terms", "rewards", "dones"):
            setattr(out, name, a[name][rows])
        out.speed = a["ego_speed"][rows]
        out.crashed = a["ego_crashed"][rows]
        inputs = [v, ep, self._road, params, a["action"][rows], a["commands"][rows], out]
        return wp.launch(self.kernel, dim=hi - lo, inputs=inputs, device=self.device, record_cmd=True)

    def torch(self, name: str) -> Any:
        """A torch tensor viewing array ``name`` (no copy; CPU or CUDA)."""
        return wp.to_torch(self.arrays[name])

    # running ------------------------------------------------------------------------------------
    def _run(self, live: int) -> None:
        cmds = self._cmds[live]
        if self._is_cuda:
            if self._torch_stream is None:
                import torch

                self._torch_stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
            cmds[0].launch(stream=self._torch_stream)
        elif len(cmds) == 1:
            cmds[0].launch()
        else:
            futures = [self._pool.submit(c.launch) for c in cmds[1:]]
            cmds[0].launch()
            for f in futures:
                f.result()
        self._steps += 1
        if not self._is_cuda or self._steps % CUDA_ERROR_CHECK_EVERY == 0 or live == 0:
            self._check_errors()

    def _check_errors(self) -> None:
        error = self.host["error"] if not self._is_cuda else self.arrays["error"].numpy()
        if error[0] if len(error) == 1 else error.any():  # a single env's flag, without a reduction
            bits = int(np.bitwise_or.reduce(error))
            envs = np.flatnonzero(error)[:8].tolist()
            error[:] = 0
            if self._is_cuda:
                self.arrays["error"].zero_()
            if bits & st.ERR_ACTION:
                raise ValueError(
                    f"actions out of range in envs {envs}: must be in [0, {len(self.action_names) - 1}] "
                    f"({', '.join(self.action_names)})"
                )
            raise FloatingPointError(
                f"the simulation became non-finite (NaN or inf) in envs {envs}; please report the scene"
            )

    def seed(self, seed: int | Sequence[int] | None) -> None:
        """Seed every env's random stream: env k draws its episodes from ``SeedSequence(seed)``'s k-th word."""
        words = np.random.SeedSequence(seed).generate_state(self.num_envs, np.uint32).view(np.int32)
        self._write("seed", words)
        self._write("episode", np.zeros(self.num_envs, np.int32))

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start new episodes in the envs of ``mask`` (all by default); the others keep their episodes and
        their last outputs (the kernel skips them), and those waiting for their autoreset still get it at
        their next step."""
        if mask is None:
            self._write("mode", np.full(self.num_envs, st.RESPAWN, np.int32))
            self._run(0)
            return
        mask = np.asarray(mask, bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"reset mask must have shape ({self.num_envs},), got {mask.shape}")
        waiting = (self.read("mode") == st.RESPAWN) & ~mask
        self._write("mode", np.where(mask, st.RESPAWN, st.STEP).astype(np.int32))
        self._run(0)
        if waiting.any():
            self._write("mode", np.where(waiting, st.RESPAWN, self.read("mode")).astype(np.int32))

    def respawn_seeded(self, seeds: np.ndarray) -> None:
        """Start new episodes drawn from the given per-env seeds (the single env's ``reset(seed)``)."""
        self._write("seed", np.asarray(seeds, np.int64).astype(np.uint32).view(np.int32))
        self._write("episode", np.zeros(self.num_envs, np.int32))
        self.reset()

    def step(self) -> None:
        """Advance every env by one policy step with the actions already in ``action``."""
        self._run(1)

    def _write(self, name: str, values: np.ndarray, index: Any = slice(None)) -> None:
        if self._is_cuda:
            host = self.arrays[name].numpy()
            host[index] = values
            self.arrays[name].assign(host)
        else:
            self.host[name][index] = values

    def read(self, name: str) -> np.ndarray:
        """A host copy of array ``name``."""
        return self.arrays[name].numpy().copy()

    def load_arrays(self, time: np.ndarray | None = None, **fields: np.ndarray) -> None:
        """Write per-vehicle fields ``(num_envs, slots)`` as they are, then recompute lanes and observe.

        For array code that builds states itself (e.g. a perceived scene); fields not given keep their
        values. Scenes, validated, go through :meth:`load_scenes`.
        """
        unknown = sorted(set(fields) - set(st.VEHICLE_FIELDS))
        if unknown:
            raise KeyError(f"unknown vehicle fields {unknown}; known: {sorted(st.VEHICLE_FIELDS)}")
        for name, values in fields.items():
            self._write(name, values)
        if time is not None:
            self._write("time", time)
        self._write("mode", np.full(self.num_envs, st.REFRESH, np.int32))
        self._run(0)

    # scenes -------------------------------------------------------------------------------------
    def load_scenes(self, scenes: Scene | Sequence[Scene]) -> None:
        """Load one scene into every env, or one scene per env; each is validated first."""
        if isinstance(scenes, Scene):
            scenes = [scenes] * self.num_envs
        if not isinstance(scenes, Sequence) or not all(isinstance(s, Scene) for s in scenes):
            raise TypeError(
                "options['scene'] must be a Scene (envs.highway.compat reads one) or a list of them"
            )
        if len(scenes) != self.num_envs:
            raise ValueError(f"got {len(scenes)} scenes for {self.num_envs} envs")
        scenes = [scene.padded(self.slots) for scene in scenes]
        for scene in scenes:
            problems = scene.problems(
                self.world.name, self.slots, self.network, self.world.route_capacity, self.cfg
            )
            problems = problems or self.world.scene_problems(scene)
            if problems:
                raise ValueError(
                    "scene does not fit this env (is it from another preset?): " + "; ".join(problems)
                )
        cap = self.world.route_capacity
        cols: dict[str, np.ndarray] = {}
        for name in (*FLOAT_FIELDS, *BOOL_FIELDS, *INT_FIELDS):
            cols[name] = np.stack([np.asarray(getattr(s, name)) for s in scenes])
        for name in ("lane", "target_lane"):
            cols[name] = np.array(
                [[self.network.lane_row(tuple(i)) for i in getattr(s, name)] for s in scenes]
            )
        route_road = np.zeros((self.num_envs, self.slots, cap), np.int32)
        route_lane = np.full((self.num_envs, self.slots, cap), -1, np.int32)
        route_len = np.zeros((self.num_envs, self.slots), np.int32)
        for k, s in enumerate(scenes):
            for i, route in enumerate(s.route):
                route_len[k, i] = len(route)
                for m, (a, b, lane_id) in enumerate(route):
                    route_road[k, i, m] = self.road_names.index((a, b))
                    route_lane[k, i, m] = -1 if lane_id is None else lane_id
        cols.update(route_road=route_road, route_lane=route_lane, route_len=route_len)
        cols["route_head"] = np.zeros_like(route_len)
        # a scene carries no commands: a vehicle nobody controls (parked) holds still until hit
        cols["acc"] = np.zeros((self.num_envs, self.slots))
        cols["steer"] = np.zeros((self.num_envs, self.slots))
        for name, values in cols.items():
            self._write(name, values)
        self._write("time", np.array([s.time for s in scenes], np.float64))
        self._write("road_steps", np.array([s.road_steps for s in scenes], np.int32))
        self._write("mode", np.full(self.num_envs, st.REFRESH, np.int32))
        self._run(0)

    def sub_step_scenes(self, env: int = 0) -> list[Scene]:
        """Env ``env``'s scene after each physics sub-step of the last policy step (needs ``trace=True``);
        only the poses and crash flags change between them. The last one is :meth:`scene`."""
        if self.trace_shape is None:
            raise RuntimeError("sub-step scenes need a simulator built with trace=True")
        scene = self.scene(env)
        trace = self.arrays["trace"].numpy()[env].reshape(self.trace_shape).astype(np.float64)
        return [
            dataclasses.replace(scene, x=t[:, 0], y=t[:, 1], heading=t[:, 2], crashed=t[:, 3] > 0.5)
            for t in trace
        ]

    def scene(self, env: int = 0) -> Scene:
        """Env ``env``'s state as a :class:`Scene`."""
        get = {name: self.arrays[name].numpy()[env] for name in (*FLOAT_FIELDS, *BOOL_FIELDS, *INT_FIELDS)}
        lanes = self.arrays["lane"].numpy()[env]
        targets = self.arrays["target_lane"].numpy()[env]
        road, lane, head, length = (
            self.arrays[k].numpy()[env] for k in ("route_road", "route_lane", "route_head", "route_len")
        )
        routes = tuple(
            tuple(
                (*self.road_names[road[i, m]], None if lane[i, m] < 0 else int(lane[i, m]))
                for m in range(head[i], head[i] + length[i])
            )
            for i in range(self.slots)
        )
        return Scene(
            **{k: np.array(v, dtype=np.float64 if k in FLOAT_FIELDS else None) for k, v in get.items()},
            lane=tuple(self.lane_names[k] for k in lanes),
            target_lane=tuple(self.lane_names[k] for k in targets),
            route=routes,
            time=float(self.arrays["time"].numpy()[env]),
            world=self.world.name,
            simulation_frequency=self.cfg.simulation_frequency,
            policy_frequency=self.cfg.policy_frequency,
            road_steps=int(self.arrays["road_steps"].numpy()[env]),
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
