"""Strict YAML -> frozen dataclass configuration.

Unknown keys and wrong types are errors (with "did you mean"), never silently
ignored; nothing is ``eval``'d. The resolved config is written next to results.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from medbalance.constraints import check_value
from medbalance.errors import ConfigError
from medbalance.registry import look_up_option

__all__ = [
    "config_hash",
    "config_to_dict",
    "dump_config",
    "flatten_sections",
    "load_config",
    "merge_config_layers",
    "merge_overrides",
    "nest_sections",
    "parse_config",
    "read_yaml_mapping",
    "section",
    "section_paths",
]

C = TypeVar("C")


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} matches none of {tp}.")
    if origin is Literal:
        allowed = [str(a) for a in get_args(tp)]
        return look_up_option(str(value), allowed, what=f"value for {where}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}.")
        return parse_config(tp, value, where=where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}.")
        args = get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}.")
            return tuple(
                _convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        inner = args[0] if args else Any
        return [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}.")
        _, vt = get_args(tp) or (Any, Any)
        return {str(k): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}.")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}.")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}.")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}.")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise ConfigError(f"{where}: expected a path, got {value!r}.")
    return value


def section(cls: type[Any]) -> Any:
    """A dataclass field holding the section ``cls`` (built with its defaults).

    The section's field names may be given flat at the top level of the parent
    (``epochs`` for ``optim.epochs``): :func:`nest_sections` moves them in. Names must
    therefore be unique across the parent's fields and all its sections.
    """
    return dataclasses.field(default_factory=cls, metadata={"section": True})


@functools.cache
def section_paths(cls: Any) -> dict[str, str]:
    """Flat field name -> dotted path (``"epochs"`` -> ``"optim.epochs"``) for ``cls``'s sections.

    Derived from the dataclasses: the fields of every field declared with :func:`section`.
    Empty for a class without sections.

    Raises:
        TypeError: two sections (or a section and the class itself) declare the same name.
    """
    own = {f.name for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    paths: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("section"):
            continue
        for inner in dataclasses.fields(hints[f.name]):
            if inner.name in own or inner.name in paths:
                raise TypeError(f"{cls.__name__}: field {inner.name!r} of section {f.name!r} is not unique")
            paths[inner.name] = f"{f.name}.{inner.name}"
    return paths


def nest_sections(cls: type, data: Mapping[str, Any], *, where: str = "config") -> dict[str, Any]:
    """``data`` with each flat key of a section moved into it (``epochs: 5`` -> ``optim: {epochs: 5}``).

    Keys already nested, top-level fields and unknown keys (left for :func:`parse_config`
    to report) stay as they are. A class without sections gets ``data`` back unchanged.

    >>> from medbalance.training.config import TrainConfig
    >>> nest_sections(TrainConfig, {"out": "r", "epochs": 5, "optim": {"lr": 0.1}})
    {'out': 'r', 'optim': {'lr': 0.1, 'epochs': 5}}

    Raises:
        ConfigError: a field given both flat and nested (``epochs`` and ``optim.epochs``),
            or a section that is not a mapping.
    """
    paths, sections = section_paths(cls), _sections(cls)
    nested: dict[str, Any] = {}
    flat: list[tuple[str, str, Any]] = []
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name in paths:
            flat.append((str(key), name, value))
        else:  # a section's mapping is copied, so the caller's is never changed
            nested[key] = dict(value) if name in sections and isinstance(value, Mapping) else value
    for key, name, value in flat:
        owner = paths[name].split(".")[0]
        target = nested.setdefault(owner, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{where}.{owner}: expected a mapping, got {target!r}.")
        if any(str(k).replace("-", "_") == name for k in target):
            raise ConfigError(
                f"{where}: {name} is given twice, as {key!r} and as {paths[name]!r}; keep one of them."
            )
        target[name] = value
    return nested


def _sections(cls: type) -> list[str]:
    return list(dict.fromkeys(path.split(".")[0] for path in section_paths(cls).values()))


def flatten_sections(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`nest_sections`: each section's keys lifted to the top level.

    >>> from medbalance.training.config import TrainConfig
    >>> flatten_sections(TrainConfig, {"out": "r", "optim": {"epochs": 5}, "phantoms": {"size": 32}})
    {'out': 'r', 'phantoms': {'size': 32}, 'epochs': 5}
    """
    sections = _sections(cls)
    flat = {k: v for k, v in values.items() if k not in sections or not isinstance(v, Mapping)}
    for name in sections:
        if isinstance(values.get(name), Mapping):
            flat.update(values[name])
    return flat


def merge_config_layers(cls: type, base: Mapping[str, Any], *overrides: Mapping[str, Any] | None,
                        where: str = "config") -> dict[str, Any]:  # fmt: skip
    """``base`` with each of ``overrides`` deep-merged into it, in turn (later ones win).

    Each layer is nested first (:func:`nest_sections`), so a flat key of one layer
    overrides the nested key of an earlier one. Dotted keys name nested ones in every
    layer; ``None`` values of the overrides are skipped (:func:`merge_overrides`), those
    of ``base`` kept.
    """
    merged = nest_sections(cls, _merge({}, base, skip_none=False), where=where)
    for layer in overrides:
        merged = merge_overrides(merged, nest_sections(cls, merge_overrides({}, layer), where=where))
    return merged


def parse_config(cls: type[C], data: Mapping[str, Any], *, where: str = "config") -> C:
    """Build the frozen dataclass ``cls`` from a mapping, strictly.

    Args:
        cls: a dataclass type.
        data: keys and values, e.g. from ``yaml.safe_load``.
        where: the dotted location used in error messages.

    Raises:
        ConfigError: on an unknown key (with "did you mean"), a wrong type, a value
            outside the field's declared bounds (:mod:`medbalance.constraints`) or a
            missing required field.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    paths = section_paths(cls)
    for key, value in nest_sections(cls, data, where=where).items():
        key = str(key).replace("-", "_")
        if key not in fields:
            look_up_option(key, [*fields, *paths], what=f"key in {where}")
        kwargs[key] = _convert(value, hints[key], f"{where}.{key}")
        check_value(cls, key, kwargs[key], where)
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}.")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (``safe_load``: no code runs).

    Raises:
        ConfigError: no such file, invalid YAML, or a top level that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}.")
    return data


def load_config(cls: type[C], path: str | Path, overrides: Mapping[str, Any] | None = None) -> C:
    """Read a YAML file into ``cls``; ``overrides`` (e.g. CLI flags) win over the file.

    A class with sections takes flat or nested keys in the file and in ``overrides``
    alike; a flat override wins over the file's nested key (:func:`merge_config_layers`).
    """
    data = read_yaml_mapping(path)
    where = Path(path).name
    return parse_config(cls, merge_config_layers(cls, data, overrides, where=where), where=where)


def merge_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``data`` with ``overrides`` deep-merged into it (``None`` values skipped).

    A nested mapping merges key by key, so overriding ``phantoms: {prevalence: 0.1}``
    keeps the file's other ``phantoms`` keys; a dotted key (``"phantoms.size"``) names
    one nested key. Anything else replaces the value.

    >>> merge_overrides({"epochs": 3, "phantoms": {"size": 64, "prevalence": 0.05}},
    ...                 {"phantoms": {"prevalence": 0.1}, "phantoms.size": 32, "lr": None})
    {'epochs': 3, 'phantoms': {'size': 32, 'prevalence': 0.1}}
    """
    return _merge(data, overrides, skip_none=True)


def _merge(data: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, skip_none: bool) -> dict[str, Any]:
    merged: dict[str, Any] = dict(data)
    for key, value in (overrides or {}).items():
        if value is None and skip_none:
            continue
        head, dot, rest = str(key).partition(".")
        if dot:
            value, key = {rest: value}, head
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value, skip_none=skip_none)
        else:
            merged[key] = value
    return merged


def config_to_dict(config: Any) -> Any:
    """A plain, YAML- and JSON-safe dict of a (nested) dataclass config."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {str(k): config_to_dict(v) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [config_to_dict(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    return config


def config_hash(config: Any) -> str:
    """A short, stable hash of a config's resolved values."""
    text = json.dumps(config_to_dict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dump_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    from medbalance.io import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(config_to_dict(config), sort_keys=False))


_ = typing  # keep typing importable for get_type_hints on forward refs
