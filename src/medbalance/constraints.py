"""Declarative option constraints: a field states its help and bounds once.

Every config dataclass (``TrainConfig``, ``PhantomConfig``, ``PreprocessConfig``,
``EvaluateConfig``, ``BenchmarkConfig``, ``DemoConfig``, the strategies' parameter
classes) declares a bounded field with :func:`option`, which stores the help text
and the bounds in the field's ``metadata``. Two callers check them, with one
message format (``"<where>: epochs must be an integer >= 1, got 0. Fix: ..."``):

- :func:`medbalance.config.parse_config` (YAML, CLI flags, strategy parameters),
  before the dataclass is built, with the file or section as ``<where>``;
- the dataclass's ``__post_init__`` through :func:`check_constraints`, so that
  direct construction (``OptimSettings(epochs=0)``, a section of ``TrainConfig``) fails the same way, with the
  class (or section: ``optim``, ``phantoms``) name as ``<where>``.

Choices stay ``Literal`` types (checked, with "did you mean", by the parser);
rules that tie two fields together stay explicit checks in ``__post_init__``.
Metadata never enters :func:`medbalance.config.config_to_dict`, so declaring a
constraint changes no config hash.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Cfg:
    ...     epochs: int = option(10, help="training epochs", ge=1)
    ...     def __post_init__(self) -> None:
    ...         check_constraints(self)
    >>> Cfg(epochs=0)
    Traceback (most recent call last):
    ...
    medbalance.errors.ConfigError: Cfg: epochs must be an integer >= 1, got 0. Fix: give epochs an integer >= 1.
    >>> describe_constraint(Cfg, "epochs")
    '>= 1'
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import operator
import types
from collections.abc import Callable, Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

from medbalance.errors import ConfigError

__all__ = ["BOUND_KEYS", "bounds_text", "check_constraints", "check_value", "describe_constraint", "option"]

_BOUNDS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "ge": (operator.ge, ">="),
    "gt": (operator.gt, ">"),
    "le": (operator.le, "<="),
    "lt": (operator.lt, "<"),
}
BOUND_KEYS = tuple(_BOUNDS)
"""The metadata keys that hold bounds: ``ge``, ``gt``, ``le``, ``lt``."""


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    fix: str | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with its help text and bounds in ``metadata``.

    Args:
        default: the default value (omit for a required field).
        help: one line shown by ``--help`` and ``medbalance strategies``.
        ge, gt, le, lt: bounds (>=, >, <=, <); give two for an interval. A tuple
            field's bounds apply to each value; ``None`` passes when the type allows it.
        fix: the sentence after "Fix:" when the default one ("give X a value >= 1")
            can say more (e.g. what the usual value is).
        default_factory: as for :func:`dataclasses.field`.
    """
    metadata: dict[str, Any] = {"help": help}
    for key, bound in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
        if bound is not None:
            metadata[key] = bound
    if fix is not None:
        metadata["fix"] = fix
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _text(bound: Any) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def bounds_text(meta: Mapping[str, Any]) -> str:
    """``">= 1"``, ``"in (0, 1]"`` or ``""``: the bounds in ``meta`` as a reader sees them."""
    low = next(((k, meta[k]) for k in ("ge", "gt") if k in meta), None)
    high = next(((k, meta[k]) for k in ("le", "lt") if k in meta), None)
    if low and high:
        left, right = "[" if low[0] == "ge" else "(", "]" if high[0] == "le" else ")"
        return f"in {left}{_text(low[1])}, {_text(high[1])}{right}"
    bound = low or high
    return f"{_BOUNDS[bound[0]][1]} {_text(bound[1])}" if bound else ""


def _allows_none(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def _wants_int(hint: Any) -> bool:
    if hint is int:
        return True
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return len(rest) == 1 and _wants_int(rest[0])
    if origin is tuple and args:
        return all(_wants_int(a) for a in args if a is not Ellipsis)
    return False


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _metadata(cls: type, name: str) -> Mapping[str, Any]:
    return next((f.metadata for f in dataclasses.fields(cls) if f.name == name), {})


def _constrained_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if any(k in f.metadata for k in BOUND_KEYS)]


def check_value(cls: type, name: str, value: Any, where: str) -> None:
    """Check one value against the bounds that ``cls`` declares for field ``name``.

    Raises:
        ConfigError: ``"<where>: <name> must be <bounds>, got <value>. Fix: ..."``.
    """
    meta = _metadata(cls, name)
    bounds = bounds_text(meta)
    if not bounds:
        return
    hint = _hints(cls).get(name, Any)
    if value is None and _allows_none(hint):
        return
    each = "each value of " if isinstance(value, tuple | list) else ""
    items = tuple(value) if each else (value,)
    kind = "an integer" if _wants_int(hint) else "a number"
    fix = meta.get("fix") or f"give {name} {kind} {bounds}."
    for item in items:
        number = isinstance(item, numbers.Real) and not isinstance(item, bool) and math.isfinite(item)
        if not number or (kind == "an integer" and not isinstance(item, numbers.Integral)):
            raise ConfigError(f"{where}: {each}{name} must be {kind} {bounds}, got {value!r}. Fix: {fix}")
        if not all(compare(item, meta[k]) for k, (compare, _) in _BOUNDS.items() if k in meta):
            what = f"an integer {bounds}" if kind == "an integer" else bounds
            raise ConfigError(f"{where}: {each}{name} must be {what}, got {value!r}. Fix: {fix}")


def check_constraints(config: Any, where: str | None = None) -> None:
    """Check every declared bound of the dataclass instance ``config``; call from ``__post_init__``.

    Args:
        config: a dataclass instance whose fields were declared with :func:`option`.
        where: the location named in messages (default: the class name).

    Raises:
        ConfigError: the first field whose value breaks its bounds.
    """
    cls = type(config)
    for f in _constrained_fields(cls):
        check_value(cls, f.name, getattr(config, f.name), where or cls.__name__)


def describe_constraint(cls: type, name: str) -> str:
    """The bounds of field ``name`` of ``cls`` as text (``""`` when it has none)."""
    return bounds_text(_metadata(cls, name))
