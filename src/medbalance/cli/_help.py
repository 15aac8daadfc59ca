"""``--help`` shows the defaults and bounds that live in the config dataclasses.

Options of ``train`` and ``benchmark`` default to None on the command line, so that a
flag given overrides ``--config`` and a flag left out keeps the file's value; their
real defaults are fields of ``TrainConfig`` / ``BenchmarkConfig``. This appends them,
with the bounds the field declares (:mod:`medbalance.constraints`), to each option's
help text, read from the dataclass, so help and behaviour cannot drift.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import typer

from medbalance.config import section_paths
from medbalance.constraints import describe_constraint

__all__ = ["show_config_defaults"]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def _defaults(config_class: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config_class):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _bounds(config_class: type, path: str) -> str:
    """The declared bounds of the field at dotted ``path`` (``phantoms.size``), or ``""``."""
    owner: Any = config_class
    *parents, name = path.split(".")
    for part in parents:
        hints = typing.get_type_hints(owner) if dataclasses.is_dataclass(owner) else {}
        owner = hints.get(part)
        if not (isinstance(owner, type) and dataclasses.is_dataclass(owner)):
            return ""
    if not (isinstance(owner, type) and dataclasses.is_dataclass(owner)):
        return ""
    if name not in {f.name for f in dataclasses.fields(owner)}:
        return ""
    return describe_constraint(owner, name)


def show_config_defaults(
    command: Callable[..., Any], config_class: type, *, fields: Mapping[str, str] | None = None
) -> Callable[..., Any]:
    """Append ``(default: X; BOUNDS)`` from ``config_class`` to every option of ``command`` defaulting to None.

    Options with a default of their own (Typer shows it) get the field's bounds only, ``(>= 1)``.

    Args:
        command: the Typer command function (its parameters' defaults are ``typer.Option``).
        config_class: the dataclass whose field defaults apply.
        fields: option parameter -> field name or dotted path where they differ (``augment`` ->
            ``augmentation``, ``phantom_size`` -> ``phantoms.size``). A field of one of
            ``config_class``'s sections is found by its flat name (``epochs`` ->
            ``optim.epochs``, :func:`medbalance.config.section_paths`).
    """
    defaults = _defaults(config_class)
    sections = section_paths(config_class)
    for name, parameter in inspect.signature(command).parameters.items():
        info = parameter.default
        if not isinstance(info, typer.models.OptionInfo):
            continue
        path = (fields or {}).get(name, name)
        path = sections.get(path, path)  # a section's field: epochs -> optim.epochs
        if info.default is not None:  # Typer shows this default itself; add the bounds
            bounds = _bounds(config_class, path)
            if bounds and info.help and bounds not in info.help:
                info.help = f"{info.help} ({bounds})"
            continue
        value: Any = defaults
        for part in path.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif dataclasses.is_dataclass(value) and hasattr(value, part):
                value = getattr(value, part)
            elif isinstance(value, type) and dataclasses.is_dataclass(value):
                value = _defaults(value).get(part)
            else:
                value = None
                break
        bounds = _bounds(config_class, path)
        if value is None and bounds and info.help and "default" not in info.help:
            info.help = f"{info.help} ({bounds})"
        if value is None or dataclasses.is_dataclass(value) or isinstance(value, Mapping):
            continue
        if info.help and "default" not in info.help:
            info.help = f"{info.help} (default: {_shown(value)}{'; ' + bounds if bounds else ''})"
    return command
