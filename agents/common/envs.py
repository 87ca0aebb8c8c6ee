"""Making environments from ids: ours (natively batched) and any other Gymnasium id."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agents.common.hparams import suggest


def known_env_ids() -> list[str]:
    return sorted(gym.registry)


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """Return the spec of ``env_id``, importing our envs and highway-env's; unknown ids list the known ones."""
    import envs  # noqa: F401  registers autodrive/*

    if env_id not in gym.registry and not env_id.startswith("autodrive/"):
        try:
            import highway_env  # noqa: F401  registers highway-v0, highway-fast-v0, ...
        except ImportError:
            pass
    if env_id not in gym.registry:
        ours = [k for k in gym.registry if k.startswith("autodrive/")]
        raise ValueError(
            f"unknown env id {env_id!r}{suggest(env_id, list(gym.registry))}; "
            f"autodrive envs: {', '.join(sorted(ours))} (plus any registered Gymnasium id)"
        )
    return gym.registry[env_id]


def check_env_kwargs(env_id: str, env_kwargs: dict | None) -> None:
    """Make ``env_id`` once with ``env_kwargs`` so that a misspelt or invalid key is one clear
    ``ValueError`` before anything is written (our configs raise KeyError/ValueError naming the key)."""
    check_env_id(env_id)
    try:
        gym.make(env_id, **dict(env_kwargs or {})).close()
    except (KeyError, TypeError, ValueError) as err:
        message = err.args[0] if err.args else repr(err)
        raise ValueError(f"--env-kwargs for {env_id}: {message}") from None


def make_vec_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    env_kwargs: dict | None = None,
    device: str = "cpu",
) -> gym.vector.VectorEnv:
    """A vector env with NEXT_STEP autoreset: natively batched when the id has a vector entry point.

    ``device`` is passed to our natively batched envs (a CUDA device keeps the simulator on the GPU);
    other envs run on the host and are wrapped in Gymnasium's SyncVectorEnv.
    """
    spec = check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    if spec.vector_entry_point is not None:
        if env_id.startswith("autodrive/") and device != "cpu":
            kwargs["device"] = device
        venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    else:
        from envs.highway.compat import highway_env_wrapper  # e.g. intersection-v0's arrival flag

        wrapper = highway_env_wrapper(spec)
        venv = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            wrappers=[wrapper] if wrapper else None,
            **kwargs,
        )
    if seed is not None:
        venv.action_space.seed(seed)
    return venv


def is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def to_numpy(x) -> np.ndarray:
    """Host copy of an array or tensor (used only at evaluation/logging boundaries)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def done_info(infos: dict, key: str, num_envs: int) -> np.ndarray | None:
    """Batched ``infos[key]`` as a NumPy array, or None when the env does not report it.

    Works with our batched envs (a plain array) and Gymnasium's SyncVectorEnv (array plus ``_key`` mask).
    """
    if key not in infos:
        return None
    values = to_numpy(infos[key])
    if values.shape[:1] != (num_envs,):
        return None
    mask = infos.get(f"_{key}")
    if mask is not None:
        values = np.where(to_numpy(mask), values, 0)
    return values
