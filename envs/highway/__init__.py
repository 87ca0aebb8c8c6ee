"""Highway simulator faithful to highway-env (``autodrive/Highway-v0``, ``autodrive/HighwayFast-v0``).

The physics is the fused kernel of ``envs/physics`` running the highway world of ``envs/worlds``. Modules
here: ``config`` (typed config, presets), ``sim`` (the simulator for a config), ``env`` (single env),
``vector`` (batched env, NumPy or torch/CUDA), ``observation`` (observation registry), ``state``
(constants, array views, scenes), ``camera`` and ``backend`` (the camera rasteriser and its NumPy/torch
shim), ``render`` (pygame, lazy), ``wrappers``, ``compat`` (scene exchange with highway-env) and
``fidelity`` (comparisons with highway-env).
"""
