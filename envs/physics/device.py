"""Warp set-up shared by every kernel user: quiet initialisation, the kernel cache, device names.

Kernels compile once per machine (a few seconds each) into Warp's kernel cache
(``~/.cache/warp/<version>``, or ``$AUTODRIVE_KERNEL_CACHE``) and load from it in about a millisecond in
every later process.
"""

from __future__ import annotations

import functools
import os

import warp as wp


@functools.cache
def init_warp() -> None:
    """Initialise Warp once per process, without its start-up banner."""
    wp.config.quiet = True
    if hasattr(wp, "LOG_WARNING"):  # Warp >= 1.19 logs its banner and module loads at INFO
        wp.config.log_level = wp.LOG_WARNING
    cache = os.environ.get("AUTODRIVE_KERNEL_CACHE")
    if cache:
        wp.config.kernel_cache_dir = cache
    wp.init()


def warp_device(device: str) -> str:
    """Warp's name of a torch-style device string: ``cpu``, ``cuda``, ``cuda:1``."""
    name = str(device)
    if name == "cpu" or name.startswith("cuda"):
        return name if name != "cuda" else "cuda:0"
    raise ValueError(f"device={device!r}: choose 'cpu' or a CUDA device such as 'cuda' or 'cuda:0'")
