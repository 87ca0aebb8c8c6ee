"""Command-line front doors, installed as the ``autodrive`` command (:mod:`scripts.cli`).

Each module parses flags and calls into ``envs``, ``agents`` or ``perception``; its ``main(argv)`` is
one ``autodrive`` command, and ``python scripts/<module>.py`` runs it from a checkout without installing.
"""
