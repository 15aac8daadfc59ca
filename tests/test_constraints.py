"""Declared option bounds (medbalance/constraints.py): one message whichever way a value arrives.

A bound is declared once on a dataclass field with ``option(...)``. YAML (``parse_config``),
direct construction (``__post_init__``) and the CLI flags must all refuse a value outside it
with the same text after ``<where>:``, before any folder is created; ``--help`` and
``medbalance strategies`` show the bounds.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

import medbalance
from medbalance.cli import main
from medbalance.config import load_config, parse_config, section_paths
from medbalance.constraints import BOUND_KEYS, _wants_int, bounds_text, check_constraints, check_value, option
from medbalance.errors import ConfigError
from medbalance.training.config import TrainConfig, compute_train_config_hash, load_train_config

# --- the mechanism ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Example:
    count: int = option(3, help="how many", ge=1)
    share: float = option(0.5, gt=0.0, le=1.0)
    limit: float | None = option(None, gt=0.0, fix="give a limit > 0, or null for none.")
    weights: tuple[float, ...] = option((1.0, 2.0), ge=0.0)

    def __post_init__(self) -> None:
        check_constraints(self)


@pytest.mark.parametrize(
    ("meta", "text"),
    [
        ({"ge": 1}, ">= 1"),
        ({"gt": 0.0}, "> 0"),
        ({"le": 2.5}, "<= 2.5"),
        ({"lt": 1.0}, "< 1"),
        ({"ge": 0.0, "le": 1.0}, "in [0, 1]"),
        ({"gt": 0.0, "lt": 1.0}, "in (0, 1)"),
        ({"gt": 0.5, "le": 1.0}, "in (0.5, 1]"),
        ({"ge": 0.25, "lt": 4}, "in [0.25, 4)"),
        ({"help": "no bounds"}, ""),
    ],
    ids=["ge", "gt", "le", "lt", "closed", "open", "half-open-left", "half-open-right", "none"],
)
def test_bounds_read_as_a_person_writes_them(meta: dict[str, Any], text: str) -> None:
    assert bounds_text(meta) == text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"count": 0},
            r"^_Example: count must be an integer >= 1, got 0\. Fix: give count an integer >= 1\.$",
        ),
        ({"count": 2.5}, r"count must be an integer >= 1, got 2\.5"),
        ({"count": True}, r"count must be an integer >= 1, got True"),
        ({"share": 0.0}, r"share must be in \(0, 1\], got 0\.0"),
        ({"share": 1.5}, r"share must be in \(0, 1\], got 1\.5"),
        ({"share": math.nan}, r"share must be a number in \(0, 1\], got nan"),
        ({"limit": -1.0}, r"limit must be > 0, got -1\.0\. Fix: give a limit > 0, or null for none\."),
        ({"limit": math.inf}, r"limit must be a number > 0, got inf"),
        ({"weights": (1.0, -0.5)}, r"each value of weights must be >= 0, got \(1\.0, -0\.5\)"),
    ],
    ids=[
        "below",
        "fraction-for-int",
        "bool-for-int",
        "open-end",
        "closed-end",
        "nan",
        "custom-fix",
        "inf",
        "tuple",
    ],
)
def test_a_value_outside_its_bounds_is_refused_with_the_fix(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _Example(**kwargs)


def test_edges_none_and_metadata() -> None:
    _Example(count=1, share=1.0, limit=None, weights=(0.0,))  # closed ends and None pass
    fields = {f.name: f for f in dataclasses.fields(_Example)}
    assert fields["count"].metadata["help"] == "how many"
    assert fields["count"].default == 3
    assert dataclasses.asdict(_Example()) == {"count": 3, "share": 0.5, "limit": None, "weights": (1.0, 2.0)}


# --- the same message through YAML, direct construction and the CLI --------------------------


def _after_where(message: str) -> str:
    return message.split(": ", 1)[1]


@pytest.mark.parametrize(
    ("key", "value", "flag", "expected"),
    [
        ("epochs", 0, "--epochs", "epochs must be an integer >= 1, got 0. Fix: give epochs an integer >= 1."),
        ("lr", -0.1, "--lr", "lr must be > 0, got -0.1. Fix: give lr a number > 0."),
        ("sam_rho", 0.0, "--sam-rho", "sam_rho must be > 0, got 0.0. Fix: give a radius > 0; 0.05 is the usual one."),
        ("grad_clip", -1.0, "--grad-clip", "grad_clip must be > 0, got -1.0. Fix: give a gradient-norm limit > 0, or null for no clipping."),
        ("num_workers", -2, "--num-workers", "num_workers must be an integer >= 0, got -2. Fix: give num_workers an integer >= 0."),
    ],
    ids=["epochs", "lr", "sam-rho", "grad-clip", "num-workers"],
)  # fmt: skip
def test_train_option_fails_the_same_way_from_yaml_python_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any, flag: str, expected: str
) -> None:
    run = tmp_path / "run"
    config_file = tmp_path / "train.yaml"
    config_file.write_text(f"out: {run}\n{key}: {value}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as from_yaml:
        load_train_config(config_file)
    section = section_paths(TrainConfig)[key].split(".")[0]  # the option's section names the place
    with pytest.raises(ConfigError) as from_python:
        type(getattr(TrainConfig(out=run), section))(**{key: value})
    code = main(["train", "--out", str(run), flag, str(value)])
    err = capsys.readouterr().err

    assert str(from_yaml.value) == f"train.yaml.{section}: {expected}"
    assert str(from_python.value) == f"{section}: {expected}"
    assert code == 2
    assert f"train config.{section}: {expected}" in " ".join(err.split())
    assert not run.exists()


def test_nested_phantom_option_fails_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medbalance.synth.phantoms import PhantomConfig
    from medbalance.training.config import PhantomSpec

    expected = (
        "prevalence must be in (0, 1), got 1.5. Fix: give the share of malignant breasts, e.g. 0.05 for 19:1."
    )
    run, phantom_dir = tmp_path / "run", tmp_path / "phantoms"
    with pytest.raises(ConfigError) as from_yaml:
        load_train_config(None, {"out": run, "phantoms": {"prevalence": 1.5}})
    for cls in (PhantomSpec, PhantomConfig):
        with pytest.raises(ConfigError) as from_python:
            cls(prevalence=1.5)
        assert str(from_python.value) == f"phantoms: {expected}"
    assert str(from_yaml.value) == f"train config.phantoms: {expected}"
    assert main(["train", "--out", str(run), "--phantom-prevalence", "1.5"]) == 2
    assert main(["synth", "phantoms", "--out", str(phantom_dir), "--prevalence", "1.5"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"train config.phantoms: {expected}" in err and f"phantoms: {expected}" in err
    assert not run.exists() and not phantom_dir.exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["demo", "--epochs", "0"], "demo: epochs must be an integer >= 1, got 0."),
        (["benchmark", "--data", "phantoms", "--workers", "0"], "workers must be an integer >= 1, got 0."),
        (["benchmark", "--data", "phantoms", "--folds", "2"], "folds must be an integer >= 3, got 2."),
    ],
    ids=["demo-epochs", "benchmark-workers", "benchmark-folds"],
)
def test_other_commands_refuse_out_of_range_flags_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    assert expected in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_strategy_parameter_fails_the_same_way(tmp_path: Path) -> None:
    from medbalance.strategies import create_strategy
    from medbalance.strategies.losses import FocalParams

    expected = "gamma must be >= 0, got -1.0. Fix: give gamma a number >= 0."
    with pytest.raises(ConfigError) as from_text:
        create_strategy("focal", gamma="-1")
    with pytest.raises(ConfigError) as from_python:
        FocalParams(gamma=-1.0)
    assert _after_where(str(from_text.value)) == expected
    assert str(from_python.value) == f"FocalParams: {expected}"


# --- every declared bound of every config dataclass is enforced ------------------------------


def _config_classes() -> list[type]:
    """Every dataclass in medbalance with at least one declared bound."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(medbalance.__path__, "medbalance."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra is missing: its classes are not checked here
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and any(k in f.metadata for f in dataclasses.fields(value) for k in BOUND_KEYS)
            ):
                found[value.__qualname__] = value
    return [found[name] for name in sorted(found)]


CONFIG_CLASSES = _config_classes()


def test_the_config_classes_are_found() -> None:
    names = {cls.__name__ for cls in CONFIG_CLASSES}
    assert {
        "TrainConfig", "PhantomSpec", "PhantomConfig", "PreprocessConfig", "EvaluateConfig", "BenchmarkConfig",
        "DemoConfig", "Constraint", "FocalParams", "ClassWeightParams", "MassParams", "MammographyAugmentation",
        "FreezeSchedule",
    } <= names, names  # fmt: skip


def _required(cls: type) -> dict[str, Any]:
    """Values for required fields; a bounded one gets a value inside its bounds."""
    from medbalance.benchmark.config import DataSetSpec

    special = {"out": Path("unused"), "data": (DataSetSpec(name="p", source="phantoms"),)}
    values = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        if f.name in special:
            values[f.name] = special[f.name]
            continue
        meta = f.metadata
        low, high = meta.get("ge", meta.get("gt")), meta.get("le", meta.get("lt"))
        inside = low + 1 if high is None else high - 1 if low is None else (low + high) / 2
        values[f.name] = round(inside) if _wants_int(_hints(cls)[f.name]) else inside
    return values


def _outside(f: dataclasses.Field[Any], key: str, is_int: bool) -> Any:
    step = 1 if is_int else 1e-3
    bound = f.metadata[key]
    bad = {"ge": bound - step, "gt": bound, "le": bound + step, "lt": bound}[key]
    default = f.default if f.default is not dataclasses.MISSING else None
    return tuple(bad for _ in default) if isinstance(default, tuple) and default else bad


def _cases() -> list[Any]:
    cases = []
    for cls in CONFIG_CLASSES:
        for f in dataclasses.fields(cls):
            for key in BOUND_KEYS:
                if key in f.metadata:
                    cases.append(pytest.param(cls, f, key, id=f"{cls.__name__}.{f.name}.{key}"))
    return cases


@pytest.mark.parametrize(("cls", "field", "key"), _cases())
def test_every_declared_bound_is_enforced(cls: type, field: dataclasses.Field[Any], key: str) -> None:
    is_int = _wants_int(_hints(cls)[field.name])
    bad = _outside(field, key, is_int)
    with pytest.raises(ConfigError, match=rf"{field.name} must be .*, got {re.escape(repr(bad))}"):
        cls(**{**_required(cls), field.name: bad})
    with pytest.raises(ConfigError, match=rf"^where: (each value of )?{field.name} must be"):
        check_value(cls, field.name, bad, "where")
    if key in ("ge", "le"):  # the closed end itself is allowed
        check_value(cls, field.name, field.metadata[key], "where")


def _hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def test_parse_config_checks_bounds_before_building(tmp_path: Path) -> None:
    from medbalance.evaluation.evaluate import EvaluateConfig

    path = tmp_path / "evaluation.yaml"
    path.write_text("n_bootstrap: 5\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"^evaluation\.yaml: n_bootstrap must be an integer >= 10, got 5\. Fix: give at least 10",
    ):
        load_config(EvaluateConfig, path)
    with pytest.raises(
        ConfigError, match=r"^section: each value of deployment_prevalences must be in \(0, 1\)"
    ):
        parse_config(EvaluateConfig, {"deployment_prevalences": [0.01, 1.0]}, where="section")


# --- help and listings show the bounds -------------------------------------------------------


def test_help_and_strategy_listing_show_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    from medbalance.strategies import describe_params
    from medbalance.strategies.weighting import ClassWeightParams

    constraints = {p.name: p.constraint for p in describe_params(ClassWeightParams)}
    assert constraints["beta"] == "in (0, 1)" and constraints["weights"] == "> 0"
    assert constraints["scheme"].startswith("inverse|")

    assert main(["strategies"]) == 0
    listing = " ".join(capsys.readouterr().out.split())
    assert "beta=0.9999 (in (0, 1))" in listing and "gamma=2.0 (>= 0)" in listing

    assert main(["train", "--help"]) == 0
    assert "(default: 10; >= 1)" in " ".join(capsys.readouterr().out.split())  # --epochs

    import typer

    from medbalance.cli import app

    root = typer.main.get_command(app)
    train = {p.name: p.help for p in root.commands["train"].params}  # type: ignore[attr-defined]
    demo = {p.name: p.help for p in root.commands["demo"].params}  # type: ignore[attr-defined]
    phantoms = {p.name: p.help for p in root.commands["synth"].commands["phantoms"].params}  # type: ignore[attr-defined]
    assert train["phantom_prevalence"].endswith("(default: 0.05; in (0, 1))")
    assert train["grad_clip"].endswith("(> 0)")  # no default: the bounds alone
    assert demo["epochs"].endswith("(>= 1)")
    assert phantoms["size"].endswith("(>= 32)")


# --- resume compatibility ---------------------------------------------------------------------


def test_declaring_bounds_does_not_change_the_train_config_hash() -> None:
    """Guards resume compatibility: runs made before the bounds were declared must still resume.

    The expected values were computed on main before this change (commit c71d3d0); metadata
    never enters config_to_dict, so the hash of the same values must not move.
    """
    assert compute_train_config_hash(TrainConfig(out=Path("runs/a"))) == "b759b32f5db9798b"
    changed = load_train_config(
        None, {"out": "runs/a", "sam": True, "fold": 1, "epochs": 3, "early_stopping_patience": 5}
    )
    assert compute_train_config_hash(changed) == "1a9f9e27d5fd6694"
