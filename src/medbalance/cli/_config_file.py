"""``--config FILE`` for every command that runs work.

The YAML file's keys are the command's option names (``n_bootstrap`` or ``n-bootstrap``);
its values become the options' defaults, so a flag given on the command line wins over
the file and a flag left out takes the file's value. ``train`` and ``benchmark`` have
their own nested configs (``TrainConfig``, ``BenchmarkConfig``) with deep-merged
overrides; this gives every other command the same habit.

Example ``evaluate.yaml``::

    level: breast
    rule: [youden, "target-sensitivity:0.95"]
    n_bootstrap: 2000
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["config_file_option"]


def _load(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    if value is None:
        return None
    from medbalance.config import read_yaml_mapping
    from medbalance.registry import look_up_option

    path = Path(value)
    data = read_yaml_mapping(path)
    options = {
        p.name: p
        for p in ctx.command.params
        if p.name not in ("config", "config_file", "help") and p.param_type_name == "option"
    }
    defaults: dict[str, Any] = {}
    for key, item in data.items():
        name = look_up_option(
            str(key).replace("-", "_"), options, what=f"option of `{ctx.command_path}` in {path}"
        )
        if options[name].multiple and not isinstance(item, list):
            item = [item]
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return path


def config_file_option() -> Any:
    """The ``--config FILE`` option (eager: the file is read before the other options)."""
    return typer.Option(
        None,
        "--config",
        callback=_load,
        is_eager=True,
        help="YAML file of this command's options (keys as the option names); flags override it.",
    )
