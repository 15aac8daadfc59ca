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
    from medbalance.training.sections import OptimSettings

    helps = {(path, name): param.help for path, command in _commands() for param in command.params  # type: ignore[attr-defined]
             for name in [param.name]}  # fmt: skip
    assert helps[("train", "lr")].endswith(f"(default: {OptimSettings.lr}; > 0)")
    assert helps[("train", "epochs")].endswith(f"(default: {OptimSettings.epochs}; >= 1)")
    assert helps[("train", "monitor")].endswith("(default: auc_roc)")
    assert helps[("train", "phantom_size")].endswith("(default: 128; >= 32)")
    assert helps[("benchmark", "seeds")].endswith(f"(default: {BenchmarkConfig.seeds})")
    assert helps[("benchmark", "level")].endswith("(default: image)")


def test_every_command_that_runs_work_takes_a_config_file() -> None:
    listing = {"models", "strategies"}  # print lists; nothing to configure
    missing = sorted(
        path for path, command in _commands()
        if path not in listing and "--config" not in {o for p in command.params for o in p.opts}  # type: ignore[attr-defined]
    )  # fmt: skip
    assert not missing, f"commands without --config: {missing}"


def test_config_file_sets_options_and_flags_win(tmp_path) -> None:
    import pandas as pd

    from medbalance.cli import main

    config = tmp_path / "phantoms.yaml"
    config.write_text("n_patients: 3\nsize: 32\nprevalence: 0.3\n")
    assert main(["synth", "phantoms", "--config", str(config), "--out", str(tmp_path / "a")]) == 0
    assert len(pd.read_csv(tmp_path / "a" / "manifest.csv")) == 3 * 4
    assert (
        main(
            ["synth", "phantoms", "--config", str(config), "--n-patients", "2", "--out", str(tmp_path / "b")]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "b" / "manifest.csv")) == 2 * 4  # the flag wins over the file


def test_config_file_with_a_misspelt_key_is_refused_before_any_work(tmp_path, capsys) -> None:
    from medbalance.cli import main

    config = tmp_path / "phantoms.yaml"
    config.write_text("n_patient: 3\n")
    assert main(["synth", "phantoms", "--config", str(config), "--out", str(tmp_path / "a")]) == 2
    assert "Did you mean 'n_patients'" in capsys.readouterr().err and not (tmp_path / "a").exists()


def test_dotted_set_overrides_reach_nested_config_keys(tmp_path) -> None:
    """--set phantoms.size=... (train) and --set evaluation.level=... (benchmark) deep-merge into the config."""
    from medbalance.benchmark.config import load_benchmark_config
    from medbalance.cli._train import parse_key_values
    from medbalance.training.config import load_train_config

    path = tmp_path / "train.yaml"
    path.write_text("out: run\ndata: phantoms\nphantoms: {n_patients: 7, size: 48}\n")
    config = load_train_config(path, parse_key_values(["phantoms.size=32"], option="--set"))
    assert (config.phantoms.size, config.phantoms.n_patients) == (32, 7)
    settings = load_benchmark_config(
        None,
        {
            "data": ["phantoms"],
            "out": str(tmp_path / "b"),
            **parse_key_values(["evaluation.level=breast"], option="--set"),
        },
    )
    assert settings.evaluation.level == "breast"
