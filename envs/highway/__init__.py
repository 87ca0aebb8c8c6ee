"""Batched highway simulator faithful to highway-env (``autodrive/Highway-v0``, ``autodrive/HighwayFast-v0``).

Modules: ``config`` (typed config, presets), ``state`` (struct of arrays, scenes), ``dynamics`` (IDM, MOBIL,
controllers, bicycle), ``collision``, ``spawn``, ``observation``, ``reward``, ``sim`` (the step pipeline),
``env`` (single env), ``vector`` (batched env, NumPy or torch), ``render`` (pygame, lazy), ``compat``
(scene exchange with highway-env), ``backend`` (the NumPy/torch array shim).
"""
