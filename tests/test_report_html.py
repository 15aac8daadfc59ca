"""report.html from a benchmark folder: sections, embedded figures, answers with this benchmark's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench_fixture import build_benchmark
from medbalance.cli import main
from medbalance.report.html import ReportConfig, write_report
from report_checks import check_html


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench")
    build_benchmark(path, figures=True, n_test_patients=150)
    return path


def test_report_is_one_self_contained_file(bench: Path) -> None:
    path = write_report(bench, ReportConfig(n_bootstrap=50))
    html = path.read_text(encoding="utf-8")
    # 2 test sets x (ROC + PR) + 4 strategies x 4 per-strategy figures (in-distribution)
    assert check_html(html) == 2 * 2 + 4 * 4
    rec = json.loads((bench / "recommendation.json").read_text())
    assert rec["answer"] in html.replace("&gt;", ">")
    assert "only 24 malignant breasts in val" in html  # validate's warnings reach the data section
    assert "not distinguishable from the baseline" in html or "better than the baseline" in html
    assert (bench / "leaderboard.csv").is_file() and (bench / "leaderboard.md").is_file()
    assert "Walsh &amp; Tardy" in html and "holds" in html


def test_cli_report_and_bad_folder(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(bench), "--constraint", "specificity>=0.9", "--n-bootstrap", "50"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert "specificity &gt;= 0.9" in (bench / "report.html").read_text()
    assert main(["report", str(tmp_path)]) == 3
    assert "is not a benchmark folder" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_a_baseline_only_benchmark_still_reports(tmp_path: Path) -> None:
    build_benchmark(tmp_path, {"none": (2.5, -4.0)}, seeds=(0,), n_test_patients=100)
    html = write_report(tmp_path, ReportConfig(n_bootstrap=50)).read_text(encoding="utf-8")
    check_html(html)
    assert "Only the baseline was run" in html and "cannot be checked" in html
    assert "Train normally (no imbalance technique) and move the threshold" in html
