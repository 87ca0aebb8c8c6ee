"""GridWorld: maps, config validation, dynamics vs the transition model, spaces, rendering, batching."""

from __future__ import annotations

import multiprocessing as mp

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401
from envs.gridworld.config import GridWorldConfig, make_config
from envs.gridworld.dynamics import compile_tables, transition
from envs.gridworld.maps import BUILTIN_MAPS, generate_maze, parse_map, resolve_map

ENV_ID = "autodrive/GridWorld-v0"
OBSERVATIONS = ("index", "grid", "rgb")


@pytest.mark.parametrize("name", list(BUILTIN_MAPS))
def test_builtin_maps_parse(name):
    layout = resolve_map(name, None, 15, 0)
    assert layout.goals.any()
    assert layout.chars[layout.start] == "S"


def test_maze16_is_16x16_and_frozen():
    layout = resolve_map("maze16", None, 15, 0)
    assert layout.shape == (16, 16)
    # the built-in maze is generated once from a fixed seed: it must never change under users' feet
    assert layout.text() == generate_maze(16, seed=7, loops=0.1)
    assert (~layout.walls[1:-1, 1:-1]).any(axis=1).all(), "no interior row may be solid wall"


def test_random_maze_is_seeded():
    assert generate_maze(11, seed=3) == generate_maze(11, seed=3)
    assert generate_maze(11, seed=3) != generate_maze(11, seed=4)
    env = gym.make(ENV_ID, map_name="random_maze", maze_size=11, maze_seed=3)
    assert env.unwrapped.layout.text() == parse_map(generate_maze(11, seed=3, loops=0.1)).text()


@pytest.mark.parametrize(
    "text, message",
    [
        ("#####\n#S.G#\n####", "equally long"),
        ("#####\n#S.X#\n#####", "unknown cell"),
        ("#####\n#..G#\n#####", "exactly one start"),
        ("#####\n#S..#\n#####", "at least one goal"),
        ("#####\n#S#G#\n#####", "unreachable"),
        ("######\n#S~.G#\n######", "unreachable"),
    ],
)
def test_bad_maps_raise(text, message):
    with pytest.raises(ValueError, match=message):
        parse_map(text)


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="did you mean 'slip'"):
        make_config(slipp=0.1)
    with pytest.raises(ValueError, match="known maps: empty, four_rooms"):
        gym.make(ENV_ID, map_name="four_room")
    with pytest.raises(ValueError, match="slip must be in"):
        GridWorldConfig(slip=1.5)
    with pytest.raises(ValueError, match="unknown observation"):
        GridWorldConfig(observation="pixels")
    assert make_config({"slip": 0.2}, max_steps=9) == GridWorldConfig(slip=0.2, max_steps=9)


@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_check_env_gymnasium_and_sb3(observation):
    env = gym.make(ENV_ID, observation=observation, map_name="four_rooms", slip=0.1)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(ENV_ID, observation=observation), warn=False)


@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_same_seed_same_episode(observation):
    def episode(seed):
        env = gym.make(ENV_ID, observation=observation, slip=0.3)
        obs, _ = env.reset(seed=seed)
        trace = [np.asarray(obs).copy()]
        rng = np.random.default_rng(0)
        for _ in range(60):
            obs, reward, term, trunc, _ = env.step(int(rng.integers(4)))
            trace.append(np.asarray(obs).copy())
            trace.append(np.array([reward, term, trunc]))
            if term or trunc:
                break
        return trace

    a, b, c = episode(5), episode(5), episode(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len(a) != len(c) or not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_transition_model_matches_sampled_dynamics():
    """Empirical next-state frequencies of the simulator agree with P (the planner's model)."""
    config = GridWorldConfig(map_name="cliff", slip=0.2)
    env = gym.make(ENV_ID, config=config)
    model = env.unwrapped.P
    tables = env.unwrapped.tables
    rng = np.random.default_rng(0)
    n = 40_000
    for s in (0, 5, tables.start):
        for a in range(4):
            nxt, rew, term = transition(tables, np.full(n, s), np.full(n, a), rng.random(n))
            for prob, next_state, reward, terminated in model[s][a]:
                freq = np.mean(nxt == next_state)
                assert abs(freq - prob) < 0.01
                hits = nxt == next_state
                assert np.all(rew[hits] == reward) and np.all(term[hits] == terminated)
            assert abs(sum(p for p, *_ in model[s][a]) - 1.0) < 1e-12


def test_p_format_and_absorbing_terminals():
    env = gym.make(ENV_ID, map_name="cliff")
    model = env.unwrapped.P
    assert len(model) == env.observation_space.n
    goal = int(env.unwrapped.tables.index[4, 12])
    hazard = int(env.unwrapped.tables.index[4, 2])
    assert model[goal][0] == [(1.0, goal, 0.0, True)]
    start = env.unwrapped.tables.start
    assert model[start][2] == [(1.0, hazard, -1.0, True)]  # stepping right from S falls off the cliff


def test_walls_block_and_rewards():
    env = gym.make(ENV_ID, map_text="#####\n#S.G#\n#####", step_reward=-0.5, goal_reward=2.0, max_steps=3)
    obs, _ = env.reset(seed=0)
    assert obs == 0
    obs, reward, term, trunc, info = env.step(3)  # up: wall, stays
    assert (obs, reward, term, trunc) == (0, -0.5, False, False)
    obs, reward, term, trunc, info = env.step(2)
    assert (obs, reward, term) == (1, -0.5, False)
    obs, reward, term, trunc, info = env.step(2)
    assert (obs, reward, term, trunc, info["is_success"]) == (2, 2.0, True, False, True)


def test_truncation_at_max_steps():
    env = gym.make(ENV_ID, map_name="empty", max_steps=4)
    env.reset(seed=0)
    flags = [env.step(3)[2:4] for _ in range(4)]  # walk into the wall
    assert flags == [(False, False)] * 3 + [(False, True)]


def test_wrong_action_raises():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0..3"):
        env.step(7)


def test_observation_views_agree():
    layout_env = gym.make(ENV_ID, observation="grid", map_name="four_rooms")
    obs, _ = layout_env.reset(seed=0)
    assert obs.shape == (4, 13, 13) and obs.dtype == np.float32
    assert obs[3].sum() == 1 and obs[3, 1, 1] == 1  # robot plane at the start
    assert np.array_equal(obs[0].astype(bool), layout_env.unwrapped.layout.walls)
    rgb_env = gym.make(ENV_ID, observation="rgb", map_name="four_rooms", cell_pixels=4)
    img, _ = rgb_env.reset(seed=0)
    assert img.shape == (52, 52, 3) and img.dtype == np.uint8
    assert tuple(img[1 * 4 + 2, 1 * 4 + 2]) == (37, 99, 235)  # the robot's colour at the start cell's centre


@pytest.mark.parametrize("mode", ["rgb_array", "human"])
def test_render_modes(mode):
    env = gym.make(ENV_ID, render_mode=mode, map_name="empty")
    env.reset(seed=0)
    frame = env.render()
    if mode == "rgb_array":
        assert frame.shape == (8 * 32, 8 * 32, 3) and frame.dtype == np.uint8
    else:
        assert frame is None
    env.step(2)
    env.close()


def test_vector_env_matches_single_env_dynamics():
    """The batch and the single env share one transition function: same RNG draws, same trajectories."""
    vec = gym.make_vec(
        ENV_ID, num_envs=8, vectorization_mode="vector_entry_point", map_name="four_rooms", slip=0.2
    )
    obs, _ = vec.reset(seed=1)
    tables = vec.unwrapped.tables if hasattr(vec, "unwrapped") else vec.tables
    replay_rng = np.random.default_rng(1)
    states = np.full(8, tables.start)
    rng = np.random.default_rng(7)
    for _ in range(30):
        actions = rng.integers(4, size=8)
        obs, rewards, term, trunc, _ = vec.step(actions)
        expected, expected_r, expected_t = transition(tables, states, actions, replay_rng.random(8))
        alive = ~(term | trunc)
        assert np.array_equal(obs, expected)
        assert np.allclose(rewards, expected_r)
        assert np.array_equal(term, expected_t)
        states = expected
        if not alive.all():
            break


def test_vector_env_next_step_autoreset():
    vec = gym.make_vec(
        ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", map_text="####\n#SG#\n####", max_steps=5
    )
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = vec.reset(seed=0)
    obs, rew, term, trunc, info = vec.step(np.array([2, 0, 0]))  # env 0 reaches the goal
    assert term.tolist() == [True, False, False] and rew[0] == 1.0 and info["is_success"][0]
    obs, rew, term, trunc, _ = vec.step(np.array([0, 0, 0]))  # env 0 resets; its action is ignored
    assert obs[0] == 0 and rew[0] == 0.0 and not term[0]
    for _ in range(3):
        obs, rew, term, trunc, _ = vec.step(np.array([0, 0, 0]))
    assert trunc.tolist() == [False, True, True]  # envs 1 and 2 hit max_steps=5


def test_vector_env_reset_mask_resets_only_the_masked_envs():
    """Gymnasium's partial reset (SB3's VecEnv needs it): only masked envs start over."""
    vec = gym.make_vec(
        ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", map_text="######\n#S..G#\n######"
    )
    vec.reset(seed=0)
    obs, *_ = vec.step(np.array([2, 2, 0]))  # envs 0 and 1 move right, env 2 bumps the wall
    assert obs.tolist() == [1, 1, 0]
    obs, _ = vec.reset(options={"reset_mask": np.array([True, False, False])})
    assert obs.tolist() == [0, 1, 0] and vec.unwrapped.elapsed.tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.ones(2, dtype=bool)})
    with pytest.raises(ValueError, match="unknown reset options"):
        vec.reset(options={"scene": None})


def test_vector_env_bad_actions():
    vec = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        vec.step(np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="0..3"):
        vec.step(np.array([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="integer"):
        vec.step(np.zeros(4))


@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_vector_env_spaces(observation):
    vec = gym.make_vec(ENV_ID, num_envs=5, vectorization_mode="vector_entry_point", observation=observation)
    obs, _ = vec.reset(seed=0)
    assert vec.observation_space.contains(obs)
    obs, *_ = vec.step(vec.action_space.sample())
    assert vec.observation_space.contains(obs)


def _make_in_spawned_worker(queue):
    env = gym.make("envs:autodrive/GridWorld-v0", map_name="cliff")  # nothing imported `envs` in this process
    obs, _ = env.reset(seed=0)
    queue.put(int(obs))


def test_registration_in_spawned_subprocess():
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_make_in_spawned_worker, args=(queue,))
    proc.start()
    value = queue.get(timeout=120)
    proc.join(timeout=60)
    assert (
        proc.exitcode == 0
        and value == compile_tables(resolve_map("cliff", None, 15, 0), GridWorldConfig()).start
    )


def test_async_vector_env_with_spawn():
    vec = gym.make_vec(
        "envs:autodrive/GridWorld-v0",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
    )
    try:
        obs, _ = vec.reset(seed=0)
        assert obs.tolist() == [0, 0]
    finally:
        vec.close()
