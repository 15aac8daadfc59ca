"""Declarative strategy parameters: a frozen dataclass per strategy, checked once.

Each strategy names a frozen dataclass of its parameters, declared with
:func:`medbalance.constraints.option`: a field's one-line ``help`` and optional
bounds (``ge``, ``gt``, ``le``, ``lt``), checked as for every other config. :func:`parse_params` builds it strictly (unknown names get "did you
mean", wrong types and out-of-range values say what was expected and what came)
and turns text from a command line (``"2"``, ``"1,19"``) into numbers first.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from medbalance.config import parse_config
from medbalance.constraints import describe_constraint
from medbalance.errors import ConfigError

__all__ = ["NoParams", "ParamInfo", "describe_params", "params_to_dict", "parse_params"]

@dataclass(frozen=True)
class NoParams:
    """The parameters of a strategy that takes none."""


@dataclass(frozen=True)
class ParamInfo:
    """One parameter as ``medbalance strategies`` shows it."""

    name: str
    default: Any
    help: str
    constraint: str


def _is_text_type(hint: Any) -> bool:
    if hint is str:
        return True
    origin = get_origin(hint)
    if origin is Literal:
        return all(isinstance(a, str) for a in get_args(hint))
    if origin in (Union, types.UnionType):
        return any(_is_text_type(a) for a in get_args(hint) if a is not type(None))
    return False


def _coerce_text(value: Any, hint: Any) -> Any:
    """Numbers and lists typed on a command line arrive as text: parse them as YAML."""
    if not isinstance(value, str) or _is_text_type(hint):
        return value
    text = value.strip()
    if "," in text and not text.startswith("["):
        text = f"[{text}]"
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return value


def parse_params(params_cls: type, values: Mapping[str, Any], *, where: str) -> Any:
    """Build the frozen parameter dataclass ``params_cls`` from keyword values.

    Args:
        params_cls: the strategy's parameter dataclass.
        values: the parameters the user gave (hyphens in names are accepted).
        where: a label for messages, e.g. ``"strategy 'focal'"``.

    Raises:
        ConfigError: unknown name (with "did you mean"), wrong type, out of range.
    """
    hints = get_type_hints(params_cls)
    coerced = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        coerced[name] = _coerce_text(value, hints[name]) if name in hints else value
    if not hints and coerced:
        raise ConfigError(f"{where} takes no parameters, got {', '.join(sorted(coerced))}. Fix: remove them.")
    return parse_config(params_cls, coerced, where=f"{where} parameters")


def _constraint_text(params_cls: type, name: str, hint: Any) -> str:
    parts = [describe_constraint(params_cls, name)]
    if get_origin(hint) is Literal:
        parts.insert(0, "|".join(str(a) for a in get_args(hint)))
    return ", ".join(p for p in parts if p)


def describe_params(params_cls: type) -> list[ParamInfo]:
    """Name, default, help and constraint of every parameter, in declaration order."""
    hints = get_type_hints(params_cls)
    return [
        ParamInfo(
            name=f.name,
            default=f.default,
            help=str(f.metadata.get("help", "")),
            constraint=_constraint_text(params_cls, f.name, hints[f.name]),
        )
        for f in dataclasses.fields(params_cls)
    ]


def params_to_dict(params: Any) -> dict[str, Any]:
    """A JSON-safe dict of a parameter dataclass (tuples become lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(params, f.name), tuple) else v
        for f in dataclasses.fields(params)
    }
