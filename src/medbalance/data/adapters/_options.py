"""Check and coerce adapter options against the adapter's signature.

The CLI passes ``--option KEY=VALUE`` pairs as strings; this module turns them
into the annotated type (int, float, bool, Path, tuple of str, Literal) and
refuses options the adapter does not take, with "did you mean".
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medbalance.errors import ConfigError
from medbalance.registry import look_up_option

__all__ = ["coerce_options", "describe_options"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _keyword_parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    params = inspect.signature(function).parameters
    return {n: p for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def describe_options(function: Callable[..., Any]) -> dict[str, tuple[Any, Any]]:
    """Option name -> (resolved type hint, default) for every keyword-only option."""
    hints = typing.get_type_hints(function)
    return {n: (hints.get(n, Any), p.default) for n, p in _keyword_parameters(function).items()}


def _strip_optional(hint: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _coerce(name: str, value: Any, hint: Any) -> Any:
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    if value is None:
        return None
    if origin is typing.Literal:
        allowed = [str(a) for a in typing.get_args(hint)]
        return look_up_option(str(value), allowed, what=f"value of option {name}")
    if origin is tuple:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(str(v) for v in value)
    if not isinstance(value, str):
        return Path(value) if hint is Path else value
    try:
        if hint is bool:
            lowered = value.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError(value)
            return lowered in _TRUE
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
    except ValueError as exc:
        raise ConfigError(f"option {name}={value!r}: expected {getattr(hint, '__name__', hint)}.") from exc
    if hint is Path:
        return Path(value)
    return value


def coerce_options(function: Callable[..., Any], adapter: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Options converted to the adapter's annotated types; unknown names refused.

    Raises:
        ConfigError: an option the adapter does not take (with "did you mean"
            and the accepted list), a required option left out, or a value of
            the wrong type.
    """
    spec = describe_options(function)
    out: dict[str, Any] = {}
    for name, value in options.items():
        key = name.replace("-", "_")
        if key not in spec:
            look_up_option(key, spec, what=f"option of adapter {adapter!r}")  # raises, with "did you mean"
        out[key] = _coerce(key, value, spec[key][0])
    required = [n for n, (_, default) in spec.items() if default is inspect.Parameter.empty and n not in out]
    if required:
        flags = ", ".join("--" + n.replace("_", "-") for n in required)
        raise ConfigError(f"adapter {adapter!r} needs option(s) {flags}; see its documentation.")
    return out
