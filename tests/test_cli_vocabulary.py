"""One vocabulary for the CLI: an option has one name and one spelling on every command."""

from __future__ import annotations

from collections import defaultdict

import typer.main

from medbalance.cli import app


def _commands() -> list[tuple[str, object]]:
    found = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if path and (not subcommands or command.params):  # type: ignore[attr-defined]
            found.append((" ".join(path), command))  # a group with options (benchmark) is a command too
        for name, sub in (subcommands or {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def _options() -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (path, param.name, tuple(param.opts))
        for path, command in _commands()
        for param in command.params  # type: ignore[attr-defined]
        if param.opts and param.opts[0].startswith("-")
    ]


def test_every_command_is_found() -> None:
    names = {path for path, _ in _commands()}
    assert {"data", "train", "evaluate", "benchmark", "predict", "export", "synth phantoms"} <= names


def test_one_spelling_per_option() -> None:
    spellings = defaultdict(set)
    for _, name, opts in _options():
        spellings[name].add(opts[0])
    differing = {name: sorted(s) for name, s in spellings.items() if len(s) > 1}
    assert not differing, f"the same option is spelt differently on different commands: {differing}"


def test_one_meaning_per_flag() -> None:
    meanings = defaultdict(set)
    for _, name, opts in _options():
        for flag in opts:
            meanings[flag].add(name)
    clashing = {flag: sorted(n) for flag, n in meanings.items() if len(n) > 1}
    assert not clashing, f"one flag names different options: {clashing}"


def test_every_output_option_has_the_short_form() -> None:
    missing = sorted(path for path, name, opts in _options() if name == "out" and "-o" not in opts)
    assert not missing, f"--out without -o on: {missing}"


def test_image_size_and_pipeline_are_named_as_in_train() -> None:
    for path in ("preview", "cache"):
        flags = {opts[0] for p, _, opts in _options() if p == path}
        assert {"--image-size", "--preprocess"} <= flags, path


def test_help_shows_the_config_defaults() -> None:
    """train and benchmark options default to None (so --config can fill them); help shows the real default."""
    from medbalance.benchmark.config import BenchmarkConfig
    from medbalance.training.config import TrainConfig

    helps = {(path, name): param.help for path, command in _commands() for param in command.params  # type: ignore[attr-defined]
             for name in [param.name]}  # fmt: skip
    assert helps[("train", "lr")].endswith(f"(default: {TrainConfig.lr})")
    assert helps[("train", "epochs")].endswith(f"(default: {TrainConfig.epochs})")
    assert helps[("train", "monitor")].endswith("(default: auc_roc)")
    assert helps[("train", "phantom_size")].endswith("(default: 128)")
    assert helps[("benchmark", "seeds")].endswith(f"(default: {BenchmarkConfig.seeds})")
    assert helps[("benchmark", "level")].endswith("(default: image)")
