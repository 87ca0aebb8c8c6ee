"""The torch backend (tested on CPU; the same code runs on CUDA) against the NumPy backend."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from envs.highway.env import HighwayEnv  # noqa: E402
from envs.highway.vector import HighwayVectorEnv  # noqa: E402


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


def _compare(preset: str, device: str) -> None:
    scenes = _scenes(preset, 6)
    ref = HighwayVectorEnv(6, preset=preset)
    tor = HighwayVectorEnv(6, preset=preset, device=device, backend="torch")
    ref_obs, _ = ref.reset(options={"scene": scenes})
    tor_obs, tor_info = tor.reset(options={"scene": scenes})
    assert isinstance(tor_obs, torch.Tensor) and tor_obs.dtype == torch.float32
    assert isinstance(tor_info["rewards"]["high_speed_reward"], torch.Tensor)
    np.testing.assert_allclose(tor_obs.cpu().numpy(), ref_obs, atol=1e-5)
    rng = np.random.default_rng(0)
    live = np.ones(6, dtype=bool)  # after an autoreset the two backends draw different episodes
    for _ in range(10):
        actions = rng.integers(5, size=6)
        r_obs, r_rew, r_term, r_trunc, r_info = ref.step(actions)
        t_obs, t_rew, t_term, t_trunc, t_info = tor.step(torch.as_tensor(actions, device=device))
        assert t_rew.dtype == torch.float32 and t_term.dtype == torch.bool and t_obs.device.type == device
        np.testing.assert_allclose(t_obs.cpu().numpy()[live], r_obs[live], atol=1e-4)
        np.testing.assert_allclose(t_rew.cpu().numpy()[live], r_rew[live], atol=1e-4)
        np.testing.assert_array_equal(t_term.cpu().numpy()[live], r_term[live])
        np.testing.assert_array_equal(t_info["crashed"].cpu().numpy()[live], r_info["crashed"][live])
        live &= ~(r_term | r_trunc)


@pytest.mark.parametrize("preset", ["highway", "highway-fast"])
def test_torch_cpu_backend_matches_numpy(preset: str) -> None:
    _compare(preset, "cpu")


def test_torch_backend_rejects_numpy_float_actions() -> None:
    env = HighwayVectorEnv(3, preset="highway-fast", backend="torch")
    env.reset(seed=0)
    with pytest.raises(TypeError):
        env.step(torch.ones(3))
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


@pytest.mark.gpu
@pytest.mark.parametrize("preset", ["highway", "highway-fast"])
def test_cuda_backend_matches_numpy(preset: str) -> None:
    _compare(preset, "cuda")


@pytest.mark.gpu
def test_cuda_device_selects_torch() -> None:
    env = HighwayVectorEnv(8, preset="highway-fast", device="cuda")
    obs, _ = env.reset(seed=0)
    assert obs.is_cuda


def test_threaded_numpy_batch_matches_one_thread(monkeypatch):
    """Large NumPy batches are cut into slices stepped by threads; envs are independent, so the slicing
    must not change a single number (the threshold is lowered here to exercise it on a small batch)."""
    from envs.highway import sim

    monkeypatch.setattr(sim, "MIN_WORK_PER_THREAD", 4)
    envs = [HighwayVectorEnv(12, preset="highway-fast") for _ in range(2)]
    envs[0].sim.threads, envs[1].sim.threads = 3, 1  # 3 slices of 4 envs, even on a 1-core machine
    for env in envs:
        env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(8):
        actions = rng.integers(5, size=12)
        (a_obs, a_rew, *_), (b_obs, b_rew, *_) = (env.step(actions) for env in envs)
        np.testing.assert_array_equal(a_obs, b_obs)
        np.testing.assert_array_equal(a_rew, b_rew)
    for name in ("x", "y", "speed", "heading", "crashed"):
        np.testing.assert_array_equal(getattr(envs[0].sim.state, name), getattr(envs[1].sim.state, name))


def _dense_matches_compact(preset: str, **overrides) -> None:
    """The dense formulation (every MOBIL/abort/collision row computed under a mask: what compile=True
    runs) against the compacted one, bit for bit, on 8 envs through crashes and lane changes."""
    envs = [HighwayVectorEnv(8, preset=preset, backend="torch", **overrides) for _ in range(2)]
    envs[1].xp.dense = True
    for env in envs:
        env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        actions = torch.as_tensor(rng.integers(5, size=8))
        (a_obs, a_rew, *_), (b_obs, b_rew, *_) = (env.step(actions) for env in envs)
        assert torch.equal(a_obs, b_obs) and torch.equal(a_rew, b_rew)
    for name in ("x", "y", "speed", "heading", "target_lane", "timer", "crashed", "has_impact", "impact_x"):
        assert torch.equal(getattr(envs[0].state, name), getattr(envs[1].state, name)), name


@pytest.mark.parametrize("preset", ["highway", "highway-fast"])
def test_dense_physics_matches_compacted(preset: str) -> None:
    _dense_matches_compact(preset)


def _compiled_single_env_matches_numpy(preset: str, steps: int, **overrides) -> None:
    ref, fast = HighwayEnv(preset, **overrides), HighwayEnv(preset, compile=True, **overrides)
    for seed in (3, 4):
        obs, _ = ref.reset(seed=seed)
        np.testing.assert_array_equal(fast.reset(seed=seed)[0], obs)
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            action = int(rng.integers(5))
            r_obs, r_rew, r_term, r_trunc, r_info = ref.step(action)
            f_obs, f_rew, f_term, f_trunc, f_info = fast.step(action)
            np.testing.assert_allclose(f_obs, r_obs, atol=1e-9)
            assert abs(f_rew - r_rew) < 1e-9 and (f_term, f_trunc) == (r_term, r_trunc)
            assert f_info["crashed"] == r_info["crashed"] and f_info["action"] == r_info["action"]
            if r_term or r_trunc:
                break


def test_compiled_single_env_matches_numpy() -> None:
    """compile=True (float64 torch, dense, one compiled graph per step) against the NumPy env. One
    sub-step per action keeps the compile short (~1 min on 2 cores); the slow test runs the presets."""
    _compiled_single_env_matches_numpy("highway-fast", 12, simulation_frequency=1, policy_frequency=1)


def test_compile_needs_highway_fast_collisions() -> None:
    with pytest.raises(ValueError, match="check_npc_collisions=False"):
        HighwayEnv("highway", compile=True)


@pytest.mark.slow
def test_compiled_highway_fast_matches_numpy() -> None:
    _compiled_single_env_matches_numpy("highway-fast", 30)
