"""The camera: shapes on every world, determinism, backends, frame stacking, where lanes and vehicles are
drawn (straight and curved roads), the view's heading, config errors, the wrapper."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.highway.camera import GRAY, HUD_ROWS, CameraSpec, render
from envs.physics import structs as st
from envs.road import network as rn
from envs.road.geometry import lane_positions

WORLD_IDS = ["autodrive/HighwayFast-v0", "autodrive/Merge-v0", "autodrive/Exit-v0", "autodrive/Roundabout-v0"]


def _vec(env_id="autodrive/HighwayFast-v0", n=4, **kw):
    return gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", observation="camera", **kw
    )


def test_single_env_shapes_and_space():
    for channels, stack in [(1, 2), (3, 1)]:
        env = gym.make(
            "autodrive/HighwayFast-v0", observation="camera", camera_channels=channels, camera_stack=stack
        )
        obs, _ = env.reset(seed=0)
        assert obs.shape == (stack * channels, 32, 128) and obs.dtype == np.uint8
        assert env.observation_space.contains(obs)
        nxt, *_ = env.step(1)
        assert env.observation_space.contains(nxt)
        assert not np.shares_memory(obs, nxt)  # every observation is a fresh array


@pytest.mark.parametrize("env_id", [*WORLD_IDS, "autodrive/Highway-v0"])
def test_vector_shapes_and_space(env_id):
    venv = _vec(env_id, 3, camera_channels=3, camera_stack=2, camera_width=64, camera_height=24)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 6, 24, 64) and venv.observation_space.contains(obs)
    nxt, *_ = venv.step(np.ones(3, int))
    assert venv.observation_space.contains(nxt) and not np.shares_memory(obs, nxt)


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


@pytest.mark.parametrize("env_id", ["autodrive/Highway-v0", "autodrive/Roundabout-v0"])
def test_numpy_and_torch_envs_see_the_same_pixels(env_id):
    a = _vec(env_id, 8, camera_channels=3)
    b = _vec(env_id, 8, camera_channels=3, backend="torch")
    oa, _ = a.reset(seed=1)
    ob, _ = b.reset(seed=1)
    for k in range(3):
        actions = np.random.default_rng(k).integers(5, size=8)
        oa, *_ = a.step(actions)
        ob, *_ = b.step(actions)
    np.testing.assert_array_equal(oa, ob.numpy())


def test_frame_stack_rolls_and_resets():
    venv = _vec(n=2, camera_stack=3)
    obs, _ = venv.reset(seed=0)
    assert np.array_equal(obs[:, 0], obs[:, 1]) and np.array_equal(obs[:, 1], obs[:, 2])  # reset: 1 frame x3
    prev = obs
    obs, _, term, trunc, _ = venv.step(np.array([1, 1]))
    np.testing.assert_array_equal(obs[:, 1], prev[:, 2])  # the stack moved by one frame
    assert not np.array_equal(obs[:, 2], prev[:, 2])


def _scene(env, x, y, heading, others=True):
    """Load the ego (slot 0) and optionally one more vehicle (slot 1) into every env; others absent."""
    sim = env.unwrapped.sim
    b, n = sim.num_envs, sim.slots
    kind = np.full((b, n), st.ABSENT, np.int32)
    kind[:, 0] = st.CONTROLLED
    if others:
        kind[:, 1] = st.IDM
    full = {"x": x, "y": y, "heading": heading}
    fields = {k: np.zeros((b, n)) + np.pad(v, ((0, 0), (0, n - v.shape[1]))) for k, v in full.items()}
    sim.load_arrays(
        **fields, speed=np.full((b, n), 20.0), kind=kind, length=np.full((b, n), 5.0),
        width=np.full((b, n), 2.0), flags=np.full((b, n), st.CHECK_COLLISIONS | st.COLLIDABLE, np.int32),
    )  # fmt: skip
    return sim


def _centroid(paint: np.ndarray) -> tuple[float, float]:
    """(column, row) centre of mass [px, continuous] of a painted patch."""
    cols, rows = paint.sum(0), paint.sum(1)
    return (
        float((cols * (np.arange(paint.shape[1]) + 0.5)).sum() / cols.sum()),
        float((rows * (np.arange(paint.shape[0]) + 0.5)).sum() / rows.sum()),
    )


@pytest.mark.parametrize("env_id", WORLD_IDS)
def test_a_lone_vehicle_is_drawn_where_it_is_in_the_view(env_id):
    """On every world (straight, sine and circular lanes): the ego on a lane, another vehicle 12 m or
    40 m ahead along it; the drawn box's centre sits where the view's pose puts it, to 0.15 px."""
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    sim = venv.unwrapped.sim
    tables = sim.network.tables()
    spec = CameraSpec(stack=1)
    rng = np.random.default_rng(0)
    for row in rng.choice(tables.num_lanes, size=min(4, tables.num_lanes), replace=False):
        length = tables.lane_f[row, rn.LENGTH]
        s0 = min(5.0, length / 3)
        pts = lane_positions(tables, np.full(4, row), np.array([s0, s0, s0 + 12.0, s0 + 40.0]), 0.0)
        x = np.array([[pts[0, 0], pts[2, 0]], [pts[1, 0], pts[3, 0]]])
        y = np.array([[pts[0, 1], pts[2, 1]], [pts[1, 1], pts[3, 1]]])
        h0 = np.arctan2(*(lane_positions(tables, row, s0 + 0.01, 0.0) - pts[0])[0][::-1])
        heading = np.full((2, 2), h0)
        _scene(venv, x, y, heading)
        frames, pose = render(sim, spec)
        _scene(venv, x, y, heading, others=False)
        empty, _ = render(sim, spec)
        if sim.host["lane"][0, 0] != row or sim.host["lane"][0, 1] != row:
            continue  # the point lies where another lane is closer (a junction): not this lane's test
        for k in range(2):
            rel = np.array([x[k, 1] - pose[k, 0], y[k, 1] - pose[k, 1]])
            c, s = np.cos(pose[k, 2]), np.sin(pose[k, 2])
            cam = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]])
            if cam[0] > spec.near or abs(cam[1]) > 10:
                continue  # into the coarse zone or out of view
            paint = np.abs(frames[k, 0].astype(float) - empty[k, 0])[: spec.height - HUD_ROWS]
            u, v = _centroid(paint)
            assert abs(u - spec.x_to_column(cam[:1])[0]) < 0.15, (env_id, row, k)
            assert abs(v - (cam[1] - spec.y_edges[0]) * spec.scale) < 0.15, (env_id, row, k)


@pytest.mark.parametrize("env_id", WORLD_IDS)
def test_lanes_are_drawn_from_the_lane_table(env_id):
    """Points on lane centres in view are road (or line) pixels; the view turns with the ego's lane."""
    env = _vec(env_id, 1, camera_stack=1)
    env.reset(seed=1)
    for _ in range(3):
        env.step(np.ones(1, int))
    sim = env.unwrapped.sim
    _scene(
        env,
        sim.host["x"][:, :1].copy(),
        sim.host["y"][:, :1].copy(),
        sim.host["heading"][:, :1].copy(),
        False,
    )
    frames, pose = render(sim, CameraSpec(stack=1))
    tables = sim.network.tables()
    spec = CameraSpec(stack=1)
    seen = 0
    c, s = np.cos(pose[0, 2]), np.sin(pose[0, 2])
    for row in range(tables.num_lanes):
        ss = np.arange(0.0, tables.lane_f[row, rn.LENGTH], 1.0)
        for side, want in ((0.0, "road"), (3.0, None)):
            pts = lane_positions(tables, np.full(len(ss), row), ss, side)
            rel = pts - pose[0, :2]
            cam = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], 1)
            inside = (cam[:, 0] > -spec.behind + 1) & (cam[:, 0] < spec.near - 1)
            inside &= np.abs(cam[:, 1]) < spec.height / 2 / spec.scale - HUD_ROWS - 1
            if not inside.any() or want is None:
                continue
            cols = np.floor(spec.x_to_column(cam[inside, 0])).astype(int)
            rows = np.floor((cam[inside, 1] - spec.y_edges[0]) * spec.scale).astype(int)
            values = frames[0, 0, rows, cols]
            ego_box = (np.abs(cam[inside, 0]) < 3.5) & (np.abs(cam[inside, 1]) < 1.5)
            # a junction of lanes meeting at an angle leaves a sliver uncovered near the lanes' ends
            ends = (ss[inside] < 1.5) | (ss[inside] > tables.lane_f[row, rn.LENGTH] - 1.5)
            assert np.all(values[~ego_box & ~ends] >= GRAY["road"] - 1), (env_id, row)
            seen += int(inside.sum())
    assert seen > 20
    # and the ground away from every lane is off-road
    assert (frames[0, 0, : spec.height - HUD_ROWS] == GRAY["offroad"]).any()


def test_the_view_turns_with_the_roundabout():
    env = _vec("autodrive/Roundabout-v0", 1)
    env.reset(seed=0)
    headings = []
    for _ in range(8):
        env.step(np.ones(1, int))
        headings.append(env.unwrapped.camera_pose[0, 2])
    assert np.ptp(np.unwrap(headings)) > 0.5  # [rad] the ego drives into the ring: the view turns


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
