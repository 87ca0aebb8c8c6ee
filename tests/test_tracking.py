"""Object-level fusion and tracking: the geometric LiDAR detector, the LiDAR's proof of empty space, the
veto of camera ghosts, and the tracker that coasts a vehicle perception has lost."""

import os

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from envs.highway.state import TrafficState  # noqa: E402
from perception.lidar import LidarSpec, env_scan, objects  # noqa: E402
from perception.tracking import Tracker, fuse_lidar_objects, refuted  # noqa: E402

SPEC = LidarSpec()


def _scene(xy: list[tuple[float, float]], speed: float = 25.0) -> tuple[TrafficState, np.ndarray]:
    """One env: the ego at the origin, then vehicles at ``xy``, all driving along x at ``speed``."""
    x = np.array([[0.0] + [p[0] for p in xy]])
    y = np.array([[0.0] + [p[1] for p in xy]])
    s = TrafficState(x=x, y=y, heading=np.zeros_like(x), speed=np.full_like(x, speed), time=np.zeros(1))
    return s, np.ones_like(x, bool)


def _empty_scan(spec: LidarSpec = SPEC) -> np.ndarray:
    return np.tile(np.array([spec.maximum_range, 0.0], np.float32), (1, spec.cells, 1))


def _cast(centres: list[tuple[float, float]], size: tuple[float, float] = (5.0, 2.0)) -> np.ndarray:
    """A scan from the origin of cars of ``size`` along x centred at ``centres``, all at the ego's speed."""
    scan = _empty_scan()
    for k, a in enumerate(SPEC.angles):
        d = np.array([np.cos(a), np.sin(a)])
        for c in centres:
            lo, hi = np.array(c) - np.array(size) / 2, np.array(c) + np.array(size) / 2
            with np.errstate(divide="ignore", invalid="ignore"):
                t1, t2 = lo / d, hi / d
            t_in, t_out = np.nanmax(np.minimum(t1, t2)), np.nanmin(np.maximum(t1, t2))
            if 0 < t_in < t_out and t_in < scan[0, k, 0]:
                scan[0, k, 0] = t_in
    return scan


def test_lidar_objects_find_the_vehicles_the_rays_reach() -> None:
    from envs.highway.vector import HighwayVectorEnv
    from envs.physics.structs import ABSENT

    env = HighwayVectorEnv(8, "highway-fast")
    env.reset(seed=3)
    for _ in range(3):
        env.step(np.ones(8, int))
    u = env.unwrapped
    s = u.state
    x, y, h, v = (np.asarray(a, np.float64) for a in (s.x, s.y, s.heading, s.speed))
    real = np.asarray(u.sim.host["kind"]).reshape(x.shape) != ABSENT
    scans = env_scan(u, SPEC)
    pose = np.stack([x[:, 0], y[:, 0], np.zeros(8)], axis=1)
    ego_v = np.stack([v[:, 0] * np.cos(h[:, 0]), v[:, 0] * np.sin(h[:, 0])], axis=1)
    found, obj = objects(scans, pose, ego_v, SPEC)
    assert found.sum() >= 16  # a few vehicles per scene
    dx, dy, dvx = [], [], []
    for e, k in zip(*np.nonzero(found)):
        d = np.hypot(x[e] - obj[e, k, 0], y[e] - obj[e, k, 1])
        d[0], d[~real[e]] = np.inf, np.inf
        j = d.argmin()
        dx.append(abs(x[e, j] - obj[e, k, 0]))
        dy.append(abs(y[e, j] - obj[e, k, 1]))
        dvx.append(abs(v[e, j] * np.cos(h[e, j]) - obj[e, k, 2]))
    # each object is a real vehicle, most placed within half a metre along the road and one across it
    # (one ray on a far car cannot tell its rear from its side)
    assert np.percentile(dx, 90) < 0.5 and np.percentile(dy, 90) < 1.2 and max(dy) < 2.5
    assert np.percentile(dvx, 90) < 1.5
    lost = scans.copy()
    lost[:, ::2] = np.nan  # lost rays return nothing, and what is left still places vehicles
    found_lost, _ = objects(lost, pose, ego_v, SPEC)
    assert 0 < found_lost.sum() <= found.sum() + 8


def test_refuted_only_where_a_ray_saw_through() -> None:
    ego = np.zeros((1, 2))
    boxes = np.array([[[20.0, 0.0], [20.0, 0.0]]])
    heading = np.zeros((1, 2))
    core = (3.0, 1.0)
    empty = _empty_scan()
    assert refuted(boxes, heading, ego, empty, SPEC.angles, SPEC.maximum_range, core, 1.0).all()
    car = empty.copy()
    car[0, 0] = (17.5, 0.0)  # ray 0 (straight ahead) returns at the rear of a car centred at 20 m
    assert not refuted(boxes, heading, ego, car, SPEC.angles, SPEC.maximum_range, core, 1.0).any()
    shadow = empty.copy()
    shadow[0, 0] = (8.0, 0.0)  # a car at 10 m hides the box: nothing is known behind it
    assert not refuted(boxes, heading, ego, shadow, SPEC.angles, SPEC.maximum_range, core, 1.0).any()
    lost = empty.copy()
    lost[0, 0] = np.nan  # a lost ray proves nothing; the neighbours at 2.8 degrees pass 1 m to the side
    assert not refuted(boxes, heading, ego, lost, SPEC.angles, SPEC.maximum_range, core, 1.0).any()


def test_object_fusion_drops_camera_ghosts_and_adds_what_the_camera_missed() -> None:
    s, present = _scene([(20.0, 0.0), (0.0, 4.0), (1.0, 0.3)])  # the camera's three detections
    s.speed[0, 2] = 20.0  # the camera misjudges the car alongside, which drives at the ego's 25 m/s
    # the LiDAR sees no car ahead (the first detection is a ghost), the one alongside, and one behind
    scan = _cast([(0.0, 4.0), (-15.0, 0.0)])
    pose = np.zeros((1, 3))
    out, keep = fuse_lidar_objects(s, present, scan, pose, SPEC)
    # the ego kept, the ghost ahead vetoed, the car alongside kept, the ghost on the ego dropped
    np.testing.assert_array_equal(keep[0, :4], [True, False, True, False])
    np.testing.assert_allclose(out.speed[0, 2], 25.0, atol=0.5)  # the LiDAR's velocity: no relative speed
    added = np.nonzero(keep[0, 4:])[0] + 4
    assert len(added) == 1  # the car behind; the car alongside is one vehicle, not added twice
    assert abs(out.x[0, added[0]] + 15.0) < 0.5 and abs(out.y[0, added[0]]) < 0.5
    np.testing.assert_allclose(out.speed[0, added[0]], 25.0, atol=0.5)  # no relative speed: the ego's


def test_tracker_coasts_a_lost_vehicle_until_the_lidar_sees_it_gone() -> None:
    dt = 0.2
    tracker = Tracker(coast_steps=2, dt=dt)
    s, present = _scene([(20.0, 0.0)], speed=30.0)
    fresh = np.ones(1, bool)
    out, keep = tracker.update(s, present, fresh)
    assert keep.sum() == 2  # the detection passes through; its track is not shown twice
    lost = present.copy()
    lost[0, 1] = False
    for step in (1, 2):  # the detection is gone: its track coasts at its speed for coast_steps steps
        out, keep = tracker.update(s, lost, ~fresh)
        assert keep.sum() == 2
        k = np.nonzero(keep[0, 2:])[0][0] + 2
        np.testing.assert_allclose(out.x[0, k], 20.0 + step * 30.0 * dt)
    out, keep = tracker.update(s, lost, ~fresh)
    assert keep.sum() == 1  # past coast_steps: dropped
    # a new track, refuted by a scan that sees through its predicted place
    tracker.update(s, present, fresh)
    ego_scan = _empty_scan()
    _, keep = tracker.update(s, lost, ~fresh, ego_scan, SPEC.angles, SPEC.maximum_range)
    assert keep.sum() == 1
    # a fresh episode forgets the last one's tracks
    tracker.update(s, present, fresh)
    _, keep = tracker.update(s, lost, fresh)
    assert keep.sum() == 1
    with pytest.raises(ValueError, match="coast_steps"):
        Tracker(coast_steps=-1, dt=dt)


def test_perceived_env_with_tracking_and_lidar_objects(tmp_path) -> None:
    from gymnasium.utils.env_checker import check_env

    from perception.model import ModelConfig, PerceptionCNN, save_model
    from perception.wrapper import make_perceived_env, make_perceived_vec

    save_model(PerceptionCNN(ModelConfig(sensors="fused", lidar_stack=2)), tmp_path / "fused")
    save_model(PerceptionCNN(ModelConfig(sensors="camera")), tmp_path / "camera")
    env = make_perceived_env(tmp_path / "fused", coast_steps=2, lidar_objects=True)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(1)
    assert obs in env.observation_space
    venv = make_perceived_vec(2, tmp_path / "camera", coast_steps=1)  # a camera model can track too
    venv.reset(seed=0)
    obs, *_ = venv.step(np.ones(2, int))
    assert obs.shape == venv.observation_space.shape
    with pytest.raises(ValueError, match="lidar_objects needs a model that reads LiDAR"):
        make_perceived_env(tmp_path / "camera", lidar_objects=True)
