"""Dataset adapters: one function per published layout, each returning a Manifest.

Every adapter is registered in :data:`ADAPTERS` as
``function(source: Path, *, <keyword options>) -> Manifest``. Options are
keyword-only and simply typed so the CLI can map ``--option`` flags to them.

Example:
    >>> from medbalance.data.adapters import create_manifest, list_adapters
    >>> list_adapters()  # doctest: +SKIP
    ['cbis-ddsm', 'cmmd', 'csv', 'folder', 'ham10000', 'medmnist', 'mini-mias', 'vindr-mammo']
    >>> manifest = create_manifest("mini-mias", Path("data/mini-mias"), task="density")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medbalance.data.adapters import _registered  # noqa: F401  (fills ADAPTERS)
from medbalance.data.adapters._common import ADAPTERS
from medbalance.data.adapters._options import coerce_options, describe_options
from medbalance.data.manifest import Manifest

__all__ = ["ADAPTERS", "create_manifest", "describe_adapter", "list_adapters"]


def list_adapters() -> list[str]:
    """Names of the registered adapters, sorted."""
    return ADAPTERS.names()


def describe_adapter(name: str) -> dict[str, tuple[Any, Any]]:
    """Option name -> (type hint, default) of adapter ``name``."""
    return describe_options(ADAPTERS.get(name))


def create_manifest(name: str, source: Path, **options: Any) -> Manifest:
    """Build a manifest with adapter ``name`` from ``source``.

    String option values (as ``--option KEY=VALUE`` gives them) are converted to
    the adapter's annotated types; ``"a,b"`` becomes ``("a", "b")`` for a tuple.

    Args:
        name: a registered adapter (see :func:`list_adapters`).
        source: the folder or file the adapter reads.
        **options: the adapter's keyword options.

    Raises:
        ConfigError: unknown adapter or option, or a value of the wrong type.
        DataError: the source does not match the adapter's layout.
        FileNotFoundError: ``source`` does not exist.
    """
    function = ADAPTERS.get(name)
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"data source {source} does not exist; check the path given to {name!r}.")
    return function(source, **coerce_options(function, name, options))
