"""Distillation: parameter ratios, DAgger's aggregate of student-visited states, the teacher-target batches,
bad input, and a reduced experiment (the full one is the ``slow`` scenario ``distillation-highway-fast``)."""

import dataclasses
import os

import numpy as np
import pytest
import torch
from torch import nn

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from agents.dagger import DAggerConfig, dagger  # noqa: E402
from agents.distill import (  # noqa: E402
    DistillConfig,
    EndToEndConfig,
    PixelPolicy,
    PolicyDistillConfig,
    check_obs,
    check_smaller,
    format_table,
    run,
)
from envs.highway.camera import CameraSpec  # noqa: E402
from perception.distill import PerceptionDistillConfig, TeacherTargets, parameters, tile  # noqa: E402
from perception.model import ModelConfig, PerceptionCNN  # noqa: E402

TEACHER = "agents/pretrained/highway-fast-dqn"


def test_the_default_students_are_smaller_the_policy_ten_times() -> None:
    from agents.dqn import build_q_network
    from agents.run import load_policy

    teacher = load_policy(TEACHER)
    arch = {"hidden": [64, 64], "activation": "relu", "dueling": False, "obs_norm": True}
    student = build_q_network(teacher.obs_shape, teacher.n_actions, arch)
    assert parameters(student) == (25 * 64 + 64) + (64 * 64 + 64) + (64 * 5 + 5)  # ObsNorm: buffers only
    ratio = check_smaller(student, teacher.net)
    assert ratio == pytest.approx(parameters(teacher.net) / 6149) and ratio >= 10
    cfg = PerceptionDistillConfig()
    big = PerceptionCNN(ModelConfig(channels=cfg.teacher_channels))
    small = PerceptionCNN(ModelConfig(channels=cfg.student_channels, ego_hidden=cfg.student_ego_hidden))
    assert check_smaller(small, big) > 3


def test_a_student_not_smaller_or_reading_another_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="the student has 36 parameters and the teacher 36"):
        check_smaller(nn.Linear(5, 6), nn.Linear(5, 6))
    with pytest.raises(ValueError, match=r"shape \(5, 5\), autodrive/HighwayFast-v0 gives \(7, 5\)"):
        check_obs((5, 5), (7, 5), "autodrive/HighwayFast-v0")
    cfg = DistillConfig(
        policy=PolicyDistillConfig(hidden=(512, 512), dagger=DAggerConfig(iterations=1, steps=1, updates=1)),
        parts=("policy",),
    )
    with pytest.raises(ValueError, match="must be smaller"):
        run(cfg, "/tmp/never-written")
    with pytest.raises(ValueError, match="narrower"):
        PerceptionDistillConfig(student_channels=16)
    with pytest.raises(ValueError, match="include 'perception'"):
        DistillConfig(parts=("end_to_end",))
    with pytest.raises(ValueError, match="loss='mse'"):
        DAggerConfig(loss="mse")
    with pytest.raises(ValueError, match="unknown parts"):
        DistillConfig(parts=("policy", "planner"))


def test_an_obs_shape_mismatch_with_the_env_is_an_error(tmp_path) -> None:
    from agents.distill import distil_policy

    seven = {"type": "Kinematics", "vehicles_count": 7}
    cfg = PolicyDistillConfig(
        env_kwargs=(("observation", seven),),
        dagger=DAggerConfig(iterations=1, num_envs=2, steps=1, updates=1),
    )
    with pytest.raises(ValueError, match=r"reads observations of shape \(5, 5\).*gives \(7, 5\)"):
        distil_policy(cfg, tmp_path, episodes=1, peer_episodes=0, seed=0)


class _Counter(nn.Module):
    """A student that always answers action 3 (and trains: its bias moves)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.0, 0.0, 0.0, 10.0, 0.0]))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(obs), -1) + 0 * obs.flatten(1)[:, :1]


def test_dagger_aggregates_the_states_the_student_visits() -> None:
    from agents.common.envs import make_vec_env

    venv = make_vec_env("autodrive/HighwayFast-v0", 4, seed=0)
    seen = []

    def teacher(obs, env):  # always action 1 (IDLE); remembers what it was asked about
        seen.append(np.array(obs))
        return torch.nn.functional.one_hot(torch.full((len(obs),), 1), 5).float()

    cfg = DAggerConfig(iterations=3, num_envs=4, steps=5, beta=1.0, beta_decay=0.0, updates=2, batch_size=8)
    data = dagger(_Counter(), teacher, venv, cfg, seed=0)
    venv.close()
    assert len(data["obs"]) == 3 * 4 * 5 and [h["states"] for h in data["history"]] == [20, 40, 60]
    assert np.array_equal(data["obs"], np.concatenate(seen))  # every visited state labelled, none dropped
    assert np.array_equal(data["iteration"], np.repeat([0, 1, 2], 20))
    first, later = data["iteration"] == 0, data["iteration"] > 0
    # iteration 0 (beta = 1) is the teacher's drive, later ones (beta = 0) the student's own
    assert not data["by_student"][first].any() and data["by_student"][later].all()
    assert (data["actions"][first] == 1).all() and (data["actions"][later] == 3).all()
    assert (data["scores"].argmax(1) == 1).all()  # the labels stay the teacher's
    # the student's own drive reaches other states than the teacher's: FASTER (3) drives faster than IDLE (1)
    vx = data["obs"][:, 0, 3]  # the ego's row, vx
    assert vx[data["iteration"] == 2].mean() > vx[first].mean()


def test_teacher_targets_are_the_teachers_outputs() -> None:
    from perception.dataset import Dataset

    camera = CameraSpec()
    cfg = ModelConfig(camera=camera)
    torch.manual_seed(0)
    teacher = PerceptionCNN(cfg).eval()
    frames = np.random.default_rng(0).integers(
        0, 256, (3, camera.channels, camera.height, camera.width), np.uint8
    )
    data = Dataset(
        manifest={},
        arrays={"frames": frames, "first": np.ones(3, bool)},
        history=np.array([[0, 0], [1, 1], [2, 2]]),
    )
    got_frames, dense_t, ego_t = TeacherTargets(teacher)(data, np.array([2, 0]), cfg)
    with torch.no_grad():
        dense, ego = teacher(torch.from_numpy(data.stacked_frames(np.array([2, 0]))))
    assert torch.equal(got_frames, torch.from_numpy(data.stacked_frames(np.array([2, 0]))))
    assert torch.allclose(dense_t[:, 0], torch.sigmoid(dense[:, 0])) and torch.equal(
        dense_t[:, 1:], dense[:, 1:]
    )
    assert torch.equal(ego_t, ego)
    other = dataclasses.replace(cfg, camera=dataclasses.replace(camera, stack=3))
    with pytest.raises(ValueError, match="the teacher reads camera.*stack=2.*the student camera.*stack=3"):
        TeacherTargets(teacher)(data, np.array([0]), other)
    with pytest.raises(ValueError, match="label_weight"):
        TeacherTargets(teacher, 1.5)


def test_pixel_policy_shapes_and_tile() -> None:
    camera = CameraSpec()
    net = PixelPolicy(camera, 5, channels=4, hidden=8)
    frames = torch.zeros(6, camera.stack * camera.channels, camera.height, camera.width, dtype=torch.uint8)
    assert net(frames).shape == (6, 5)
    x = np.arange(3)[:, None]
    assert tile(x, 7)[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0] and tile(np.arange(9), 4).tolist() == [
        0,
        1,
        2,
        3,
    ]


def test_reduced_distillation_experiment(tmp_path) -> None:
    d = DAggerConfig(iterations=2, num_envs=8, steps=8, updates=20, batch_size=32)
    cfg = DistillConfig(
        policy=PolicyDistillConfig(dagger=d),
        perception=PerceptionDistillConfig(
            train_frames=512, test_frames=256, teacher_steps=4, student_steps=4, workers=1
        ),
        end_to_end=EndToEndConfig(channels=4, hidden=16, dagger=d),
        episodes=3,
        peer_episodes=2,
        threads=1,
    )
    result = run(cfg, tmp_path)
    p = result["policy"]
    assert p["parameter_ratio"] == pytest.approx(p["teacher"]["parameters"] / p["student"]["parameters"])
    assert p["parameter_ratio"] > 10
    assert p["labelled_states"] == 2 * 8 * 8 and len(p["dagger"]) == 2
    for name in ("teacher", "student"):
        assert p[name]["ours"]["episodes"] == 3 and p[name]["highway_env"]["episodes"] == 2
        assert p[name]["highway_env"]["env_id"] == "highway-fast-v0"
        assert set(p[name]["steps_per_s"]) == {"batch_1", "batch_1024"}
    assert p["return_kept"] == pytest.approx(
        p["student"]["ours"]["mean_return"] / p["teacher"]["ours"]["mean_return"]
    )
    q = result["perception"]
    assert q["teacher"]["parameters"] > q["student"]["parameters"] and 0 <= q["student"]["occupancy_f1"] <= 1
    assert (tmp_path / "perception" / "student" / "model.safetensors").exists()
    assert np.isfinite(q["teacher"]["driving"]["mean_return"])
    e = result["end_to_end"]
    assert e["labelled_states"] == 2 * 8 * 8 and "chain" in e["labels"]
    assert e["modular"]["ours"]["env_id"] == "autodrive/HighwayFastPerceived-v0"
    assert (tmp_path / "end-to-end" / "end-to-end.safetensors").exists()
    table = format_table(result)
    assert table.count("| DQN student |") == 1 and table.count("\n| ") == 2 + 6 - 1
    assert result["config"] == dataclasses.asdict(cfg)
