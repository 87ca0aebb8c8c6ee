"""Shared test setup: headless pygame/matplotlib, and clean skips for GPU-only tests."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def highway_env_env():
    """Make highway-env's env of an id, configured (skips without highway-env). Its merge/exit/
    roundabout-v0 warn that v1 variants exist; we model v0, so the warning is silenced."""
    pytest.importorskip("highway_env")
    import warnings

    import gymnasium as gym

    def make(env_id: str, **config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return gym.make(env_id, config=config or None).unwrapped

    return make


@pytest.fixture(autouse=True)
def _highway_env_idm_defaults():
    """intersection-v0's reset sets highway-env's IDMVehicle class attributes for the whole process: put
    the defaults back after each test, so that no test sees another's traffic settings."""
    yield
    import sys

    if "highway_env" in sys.modules:
        from envs.highway.fidelity import restore_highway_env_idm

        restore_highway_env_idm()
