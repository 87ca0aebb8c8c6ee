"""One kernel, many ways to run it: threads, precisions, torch outputs, CUDA; and its error flags."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from envs.highway.env import HighwayEnv  # noqa: E402
from envs.highway.vector import HighwayVectorEnv  # noqa: E402
from envs.physics import engine  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """torch's CPU thread pool spins when the cores are shared (tests slow down ~50x under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _scenes(preset: str, count: int) -> list:
    scenes = []
    for seed in range(count):
        env = HighwayEnv(preset)
        env.reset(seed=seed)
        scenes.append(env.scene())
    return scenes


def _compare(preset: str, device: str, exact: bool) -> None:
    """The torch-facing env on ``device`` against the NumPy env on the same scenes, step by step."""
    scenes = _scenes(preset, 6)
    ref = HighwayVectorEnv(6, preset=preset)
    tor = HighwayVectorEnv(6, preset=preset, device=device, backend="torch")
    ref_obs, _ = ref.reset(seed=0, options={"scene": scenes})  # seeds the autoresets
    tor_obs, tor_info = tor.reset(seed=0, options={"scene": scenes})
    assert isinstance(tor_obs, torch.Tensor) and tor_obs.dtype == torch.float32
    assert isinstance(tor_info["rewards"]["high_speed_reward"], torch.Tensor)
    tol = 0 if exact else 1e-4
    np.testing.assert_allclose(tor_obs.cpu().numpy(), ref_obs, atol=tol)
    rng = np.random.default_rng(0)
    live = np.ones(6, dtype=bool)  # CPU and CUDA may round differently: compare until an env ends
    for _ in range(10):
        actions = rng.integers(5, size=6)
        r_obs, r_rew, r_term, r_trunc, r_info = ref.step(actions)
        t_obs, t_rew, t_term, t_trunc, t_info = tor.step(torch.as_tensor(actions, device=device))
        assert t_rew.dtype == torch.float32 and t_term.dtype == torch.bool and t_obs.device.type == device
        np.testing.assert_allclose(t_obs.cpu().numpy()[live], r_obs[live], atol=tol)
        np.testing.assert_allclose(t_rew.cpu().numpy()[live], r_rew[live], atol=tol)
        np.testing.assert_array_equal(t_term.cpu().numpy()[live], r_term[live])
        np.testing.assert_array_equal(t_info["crashed"].cpu().numpy()[live], r_info["crashed"][live])
        if not exact:
            live &= ~(r_term | r_trunc)


@pytest.mark.parametrize("preset", ["highway", "highway-fast", "merge", "exit", "roundabout"])
def test_torch_outputs_on_cpu_equal_numpy_outputs(preset: str) -> None:
    _compare(preset, "cpu", exact=True)


def test_torch_env_rejects_float_actions_and_accepts_integers() -> None:
    env = HighwayVectorEnv(3, preset="highway-fast", backend="torch")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.ones(3))
    with pytest.raises(ValueError, match=r"in \[0, 4\]"):
        env.step(torch.tensor([0, 5, 1]))
    obs, reward, term, trunc, info = env.step(torch.ones(3, dtype=torch.int64))
    assert obs.shape == (3, 5, 5) and reward.shape == (3,)


def test_torch_autoreset_and_seeding() -> None:
    def rollout() -> list:
        env = HighwayVectorEnv(4, preset="highway-fast", backend="torch", duration=2)
        out = [env.reset(seed=3)[0]]
        for _ in range(5):
            out.append(env.step(torch.full((4,), 3, dtype=torch.int64))[0])
        return out

    assert all(torch.equal(a, b) for a, b in zip(rollout(), rollout()))


@pytest.mark.parametrize("preset", ["highway", "highway-fast", "merge", "exit", "roundabout"])
def test_thread_count_does_not_change_a_number(monkeypatch, preset: str) -> None:
    """A CPU batch is cut into slices launched from threads; envs are independent, so the slicing must
    not change a single number (the threshold is lowered to slice even this small batch)."""
    monkeypatch.setattr(engine, "MIN_WORK_PER_THREAD", 1)
    limits = {"duration": 4} if preset != "merge" else {}  # merge episodes end past the ramp anyway
    envs = [HighwayVectorEnv(12, preset=preset, threads=t, **limits) for t in (3, 1)]
    assert len(envs[0].sim._cmds[1]) == 3 and len(envs[1].sim._cmds[1]) == 1
    for env in envs:
        env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(8):  # through autoresets
        actions = rng.integers(5, size=12)
        (a_obs, a_rew, a_term, *_), (b_obs, b_rew, b_term, *_) = (env.step(actions) for env in envs)
        np.testing.assert_array_equal(a_obs, b_obs)
        np.testing.assert_array_equal(a_rew, b_rew)
        np.testing.assert_array_equal(a_term, b_term)
    for name in ("x", "y", "speed", "heading"):
        np.testing.assert_array_equal(getattr(envs[0].state, name), getattr(envs[1].state, name))


def test_float32_follows_float64() -> None:
    """The batch's float32 kernel stays within float32 rounding of the float64 one over a short horizon."""
    scenes = _scenes("highway-fast", 8)
    envs = [HighwayVectorEnv(8, preset="highway-fast", precision=p) for p in ("float64", "float32")]
    for env in envs:
        env.reset(options={"scene": scenes})
    rng = np.random.default_rng(1)
    for _ in range(5):
        actions = rng.integers(5, size=8)
        (a_obs, *_), (b_obs, *_) = (env.step(actions) for env in envs)
        np.testing.assert_allclose(a_obs, b_obs, atol=1e-4)


def test_non_finite_state_raises_instead_of_returning_nan() -> None:
    env = HighwayVectorEnv(4, preset="highway-fast")
    env.reset(seed=0)
    env.sim.host["speed"][2, 3] = np.nan  # as if something upstream corrupted the state
    with pytest.raises(FloatingPointError, match=r"envs \[2\]"):
        env.step(np.ones(4, dtype=np.int64))


def test_unknown_precision_and_device_raise() -> None:
    with pytest.raises(ValueError, match="precision"):
        HighwayVectorEnv(2, preset="highway-fast", precision="float16")
    with pytest.raises(ValueError, match="device"):
        HighwayVectorEnv(2, preset="highway-fast", device="tpu", backend="torch")


@pytest.mark.parametrize(
    "preset, observation",
    [
        ("highway-fast", "kinematics"),
        ("merge", "kinematics"),
        ("exit", "exit"),
        ("merge", "time_to_collision"),
        ("parking", "kinematics_goal"),
        ("roundabout", "lidar"),
    ],
)
def test_cuda_kernel_compiles_without_a_gpu(tmp_path, preset: str, observation: str) -> None:
    """The CUDA build of the step kernel compiles here (to PTX for sm_90, Warp's bundled NVRTC), so a
    kernel that only breaks on CUDA is caught on machines without a GPU."""
    import warp as wp

    from envs.highway.config import make_config
    from envs.highway.observation import OBSERVATIONS
    from envs.physics.device import init_warp
    from envs.physics.kernel import step_kernel
    from envs.worlds import WORLDS

    init_warp()
    cfg = make_config(preset, observation=observation)
    kernel = step_kernel(wp.float32, WORLDS[cfg.world](cfg).funcs, OBSERVATIONS[observation].kernel(cfg).name)
    wp.compile_aot_module(kernel.module, device=None, arch=90, use_ptx=True, module_dir=str(tmp_path))
    assert any(p.suffix == ".ptx" for p in tmp_path.rglob("*"))


@pytest.mark.gpu
@pytest.mark.parametrize("preset", ["highway", "highway-fast", "merge", "exit", "roundabout"])
def test_cuda_matches_cpu(preset: str) -> None:
    _compare(preset, "cuda", exact=False)


@pytest.mark.gpu
def test_cuda_device_selects_torch_and_keeps_tensors_on_the_device() -> None:
    env = HighwayVectorEnv(8, preset="highway-fast", device="cuda")
    obs, info = env.reset(seed=0)
    assert obs.is_cuda and info["speed"].is_cuda
    obs, reward, *_ = env.step(torch.ones(8, dtype=torch.int64, device="cuda"))
    assert obs.is_cuda and reward.is_cuda
