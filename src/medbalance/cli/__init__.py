"""The ``medbalance`` command: a thin layer over the library.

Each subcommand builds a config and calls one library function; every module
under ``medbalance.cli`` registers its commands through ``register(app)``.
Heavy imports (torch, Lightning) happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import click
import typer
from rich.console import Console
from rich.markup import escape

from medbalance import __version__
from medbalance.errors import ConfigError, DataError, MedbalanceError

__all__ = ["app", "main"]


def _click_exception_types() -> tuple[type[Exception], ...]:
    """click's usage-error types, and those of the click copy newer typer vendors."""
    types: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:  # typer releases that use click itself
        pass
    else:
        types.append(VendoredClickException)
    return tuple(types)


def _abort_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [click.exceptions.Abort]
    try:
        from typer.exceptions import Abort as TyperAbort
    except ImportError:
        pass
    else:
        types.append(TyperAbort)
    return tuple(types)


_CLICK_ERRORS = _click_exception_types()
_ABORTS = _abort_types()

app = typer.Typer(
    name="medbalance",
    help="Train and evaluate medical image classifiers when the finding that matters is rare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (
    "_data",
    "_synth",
    "_train",
    "_evaluate",
    "_models",
    "_strategies",
    "_preprocess",
    "_demo",
    "_benchmark",
    "_recommend",
    "_report",
    "_export",
    "_predict",
    "_explain",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"medbalance {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Train and evaluate medical image classifiers when the finding that matters is rare."""


for _name in _COMMAND_MODULES:
    importlib.import_module(f"medbalance.cli.{_name}").register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; errors become a one-line message and the exit code of ``errors.EXIT_CODES``.

    2: usage or configuration, 3: data, 4: training or checkpoint, 1: done with failed
    items, 130: interrupted. A ``ValueError`` from outside medbalance's own checks is
    reported the same way (exit 2) instead of as a traceback; ``MEDBALANCE_DEBUG=1``
    shows the traceback.
    """
    err = Console(stderr=True)
    try:
        # With standalone_mode=False click returns the code of typer.Exit instead of raising.
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except MedbalanceError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except FileNotFoundError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return DataError.exit_code
    except ValueError as exc:
        if os.environ.get("MEDBALANCE_DEBUG"):
            raise
        err.print(
            f"[bold red]error:[/] {escape(str(exc))} (MEDBALANCE_DEBUG=1 shows where)",
            highlight=False,
            soft_wrap=True,
        )
        return ConfigError.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except _CLICK_ERRORS as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except _ABORTS:
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        err.print("interrupted; completed files were kept, partial ones removed")
        return 130
    return int(code) if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
