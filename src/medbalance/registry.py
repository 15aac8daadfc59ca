"""One registry pattern for everything pluggable.

Strategies, losses, samplers, models, dataset adapters and lesion types all use
:class:`Registry`: a decorator registers a factory under a name, duplicate names
raise, unknown names raise with "did you mean" and the full list.

Example:
    >>> ADAPTERS = Registry("dataset adapter")
    >>> @ADAPTERS.register("folder", description="class-named subfolders")
    ... def folder_adapter(root): ...
    >>> ADAPTERS.get("foldr")
    Traceback (most recent call last):
    ...
    medbalance.errors.ConfigError: unknown dataset adapter 'foldr'. Did you mean 'folder'? Expected one of: folder.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from medbalance.errors import ConfigError

__all__ = ["Registry", "RegistryEntry", "look_up_option"]

T = TypeVar("T")


def look_up_option(value: str, options: Iterable[str], *, what: str) -> str:
    """Return ``value`` if it is one of ``options``, else raise with a suggestion.

    Args:
        value: the option the user gave.
        options: the accepted spellings.
        what: a noun for the message, e.g. "threshold rule".

    Raises:
        ConfigError: naming the closest accepted option and all of them.
    """
    choices = list(options)
    if value in choices:
        return value
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown {what} {value!r}.{hint} Expected one of: {', '.join(sorted(choices))}.")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """A registered object with the one-line description shown by ``list``."""

    name: str
    obj: T
    description: str


class Registry(Generic[T]):
    """A name -> object mapping filled by a decorator.

    Args:
        kind: a noun used in error messages ("strategy", "model", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str, *, description: str = "") -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``.

        Raises:
            ConfigError: if ``name`` is already taken.
        """

        def decorator(obj: T) -> T:
            self.add(name, obj, description=description)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, description: str = "") -> None:
        """Register ``obj`` under ``name`` without a decorator."""
        if name in self._entries:
            raise ConfigError(f"{self.kind} {name!r} is already registered; pick another name.")
        doc = description or (getattr(obj, "__doc__", None) or "").strip().split("\n")[0]
        self._entries[name] = RegistryEntry(name=name, obj=obj, description=doc)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises:
            ConfigError: unknown name, with "did you mean" and the list.
        """
        return self._entries[look_up_option(name, self._entries, what=self.kind)].obj

    def entry(self, name: str) -> RegistryEntry[T]:
        """Return the full entry (name, object, description) for ``name``."""
        return self._entries[look_up_option(name, self._entries, what=self.kind)]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry[T]]:
        """Registered entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
