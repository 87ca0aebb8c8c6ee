"""Typed hyperparameters: one YAML file per algorithm, keyed by env id, with a ``default`` block.

``agents/hyperparams/<algo>.yaml``::

    default:            # applies to every env
      learning_rate: 0.001
    autodrive/HighwayFast-v0:
      learning_rate: 0.0005

Resolution order: dataclass defaults < ``default`` block < env block < ``--hp key=value`` overrides.
Every key is checked against the algorithm's frozen dataclass: a misspelt key raises and names the
nearest valid one, so a typo can never run silently with the default.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import yaml


def suggest(name: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_error(kind: str, key: str, known: Sequence[str]) -> ValueError:
    return ValueError(f"unknown {kind} {key!r}{suggest(key, known)}; valid: {', '.join(sorted(known))}")


def parse_value(text: str) -> Any:
    """Parse a ``key=value`` right-hand side as YAML (``3`` -> int, ``1e-3`` -> float, ``[1, 2]`` -> list)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        # YAML reads 1e-3 as a string; accept scientific notation as a float.
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_key_values(items: Sequence[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` with clear errors for malformed items."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert a YAML/CLI value to the field's declared type, or raise a ValueError saying why."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{name} expects a list, got {value!r}")
        args = typing.get_args(annotation)
        elem = args[0] if args else Any
        return tuple(_coerce(name, v, elem) for v in value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} expects true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            raise ValueError(f"{name} expects an integer, got {value!r}")
        return int(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} expects a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} expects a string, got {value!r}")
        return value
    return value


def build_dataclass(cls: type, values: Mapping[str, Any], kind: str = "hyperparameter") -> Any:
    """Instantiate frozen dataclass ``cls`` from ``values``, checking names and types."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise unknown_key_error(f"{kind} for {cls.__name__}", key, list(fields))
        kwargs[key] = _coerce(key, value, hints.get(key, Any))
    return cls(**kwargs)


def hyperparams_file(algo: str) -> dict[str, dict[str, Any]]:
    """The shipped YAML table of ``algo`` (empty when the algorithm ships none)."""
    path = resources.files("agents") / "hyperparams" / f"{algo}.yaml"
    if not path.is_file():
        return {}
    table = yaml.safe_load(path.read_text()) or {}
    if not isinstance(table, dict):
        raise ValueError(f"{path}: expected a mapping of env id -> hyperparameters")
    return table


def read_hyperparams_file(path) -> dict[str, dict[str, Any]]:
    """A hyperparameter YAML given on the command line (``--hyperparams FILE``): the shipped files' shape,
    a ``default`` block and env-id blocks (a sweep's ``best.yaml`` is one)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no hyperparameter file {path}")
    table = yaml.safe_load(path.read_text()) or {}
    if not isinstance(table, dict) or not all(isinstance(v, dict | None) for v in table.values()):
        raise ValueError(f"{path}: expected a mapping of `default` / env id -> hyperparameters")
    return table


def resolve_hyperparams(
    algo: str,
    cls: type,
    env_id: str,
    overrides: Mapping[str, Any] | None = None,
    table: Mapping[str, Any] | None = None,
) -> Any:
    """Dataclass defaults < YAML ``default`` < YAML ``env_id`` block < ``overrides``; ``table`` (the
    same shape as the shipped file) replaces ``agents/hyperparams/<algo>.yaml``."""
    if table is None:
        table = hyperparams_file(algo)
    elif not isinstance(table, Mapping) or not all(isinstance(v, Mapping | None) for v in table.values()):
        raise ValueError("a hyperparameter file is a mapping of `default` / env id -> hyperparameters")
    merged: dict[str, Any] = {}
    merged.update(table.get("default") or {})
    merged.update(table.get(env_id) or {})
    merged.update(overrides or {})
    return build_dataclass(cls, merged)
