"""The highway camera: shapes, determinism, NumPy vs torch, frame stacking, geometry, config errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.highway.backend import NumpyOps, TorchOps
from envs.highway.camera import HUD_ROWS, CameraSpec, render
from envs.highway.state import TrafficState

IDS = ["autodrive/HighwayFast-v0", "autodrive/Highway-v0"]


def _vec(env_id="autodrive/HighwayFast-v0", n=4, **kw):
    return gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", observation="camera", **kw
    )


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize(("channels", "stack"), [(1, 2), (3, 1), (3, 3)])
def test_shapes_and_space(env_id, channels, stack):
    env = gym.make(env_id, observation="camera", camera_channels=channels, camera_stack=stack)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (stack * channels, 32, 128) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(1)
    assert env.observation_space.contains(obs)
    venv = _vec(env_id, 3, camera_channels=channels, camera_stack=stack, camera_width=64, camera_height=24)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, stack * channels, 24, 64)


def test_deterministic_by_seed():
    a, b = _vec(), _vec()
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    np.testing.assert_array_equal(oa, ob)
    actions = np.array([0, 1, 2, 3])
    for _ in range(3):
        oa, *_ = a.step(actions)
        ob, *_ = b.step(actions)
    np.testing.assert_array_equal(oa, ob)


def _torch_state(s: TrafficState) -> TrafficState:
    xp = TorchOps("cpu")
    return TrafficState(**{name: xp.asarray(np.asarray(getattr(s, name))) for name in s.__dataclass_fields__})


@pytest.mark.parametrize("channels", [1, 3])
def test_numpy_and_torch_draw_the_same_pixels(channels):
    venv = gym.make_vec("autodrive/Highway-v0", num_envs=16, vectorization_mode="vector_entry_point")
    venv.reset(seed=1)
    for _ in range(3):
        venv.step(np.random.default_rng(0).integers(5, size=16))
    s = venv.unwrapped.state
    spec = CameraSpec(channels=channels)
    a = render(NumpyOps(), s, spec, 4)
    b = render(TorchOps("cpu"), _torch_state(s), spec, 4).numpy()
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1  # float32 sums in another order may round a .5 the other way
    assert (diff > 0).mean() < 1e-3


def test_frame_stack_rolls_and_resets():
    venv = _vec(n=2, camera_stack=3)
    obs, _ = venv.reset(seed=0)
    assert np.array_equal(obs[:, 0], obs[:, 1]) and np.array_equal(
        obs[:, 1], obs[:, 2]
    )  # reset: one frame x3
    prev = obs
    obs, _, term, trunc, _ = venv.step(np.array([1, 1]))
    np.testing.assert_array_equal(obs[:, 1], prev[:, 2])  # the stack moved by one frame
    assert not np.array_equal(obs[:, 2], prev[:, 2])


def test_a_lone_vehicle_is_drawn_where_it_is():
    spec = CameraSpec(stack=1)
    xp = NumpyOps()
    dxs = np.array([7.3, 61.0])
    x = np.array([[500.0, 500.0 + dxs[0]], [500.0, 500.0 + dxs[1]]])
    y = np.array([[4.0, 8.0], [4.0, 8.0]])
    zeros = np.zeros_like(x)
    s = TrafficState(x=x, y=y, heading=zeros, speed=zeros + 20, time=np.zeros(2))
    frames = render(xp, s, spec, 3).astype(float)[:, 0]  # (2, H, W)
    alone = x - 10_000 * np.array([0, 1])  # the same scene with the other vehicle out of view
    empty = render(xp, TrafficState(**{**s.__dict__, "x": alone}), spec, 3)
    for k in range(2):
        paint = np.abs(frames[k] - empty[k, 0].astype(float))
        cols = paint.sum(0)
        centre = (cols * (np.arange(spec.width) + 0.5)).sum() / cols.sum()
        assert abs(centre - spec.x_to_column(dxs[k : k + 1])[0]) < 0.1  # [px]
        rows = paint.sum(1)
        assert abs((rows * (np.arange(spec.height) + 0.5)).sum() / rows.sum() - (4.0 - spec.y_edges[0])) < 0.1
    assert frames[0, spec.height - HUD_ROWS].max() == 255  # speed bar


def test_geometry():
    spec = CameraSpec()
    edges = spec.x_edges
    assert len(edges) == spec.width + 1 and np.all(np.diff(edges) > 0)
    assert edges[0] == -spec.behind and spec.ahead > 200  # the Kinematics range is in view
    np.testing.assert_allclose(
        spec.column_to_x(spec.x_to_column(np.array([-20.0, 3.3, 150.0]))), [-20, 3.3, 150]
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("camera_channels", 2), ("camera_stack", 0), ("camera_width", 4), ("camera_scale", 0.0)],
)
def test_bad_camera_config_raises(key, value):
    with pytest.raises(ValueError, match="camera"):
        gym.make("autodrive/HighwayFast-v0", observation="camera", **{key: value})


def test_camera_wrapper_draws_what_the_camera_observation_draws():
    from envs.highway.wrappers import CameraWrapper

    plain = gym.make("autodrive/HighwayFast-v0", observation="camera", camera_stack=3)
    wrapped = CameraWrapper(gym.make("autodrive/HighwayFast-v0"), camera_stack=3)
    assert wrapped.observation_space == plain.observation_space
    a, _ = plain.reset(seed=5)
    b, _ = wrapped.reset(seed=5)
    np.testing.assert_array_equal(a, b)
    for action in (3, 0, 1, 4):
        a, *_ = plain.step(action)
        b, *_ = wrapped.step(action)
        np.testing.assert_array_equal(a, b)
    assert wrapped.observation_space.contains(b)
    with pytest.raises(ValueError, match="unknown camera fields"):
        CameraWrapper(gym.make("autodrive/HighwayFast-v0"), camera_widht=64)
    with pytest.raises(ValueError):
        CameraWrapper(gym.make("autodrive/HighwayFast-v0"), camera_channels=2)
    with pytest.raises(TypeError, match="autodrive highway env"):
        CameraWrapper(gym.make("CartPole-v1"))
