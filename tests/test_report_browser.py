"""The report in a real browser: headless Chromium renders it, screenshots it, and its DOM holds every section.

Needs Debian's ``chromium`` (``make test-browser`` installs it); skipped with the reason when it is absent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from bench_fixture import build_benchmark
from medbalance.report.html import ReportConfig, write_report
from report_checks import check_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed; run `make test-browser` (apt-get install -y chromium)",
)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    build_benchmark(bench, figures=True, n_test_patients=150)
    report = write_report(bench, ReportConfig(n_bootstrap=50))
    url = report.resolve().as_uri()
    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        histogram = image.convert("L").histogram()
        assert sum(histogram[:128]) / sum(histogram) > 0.01  # dark text and figures: not a blank page
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the DOM after parsing: every section, every question, every <img> an embedded PNG that decodes
    assert check_html(dom.stdout) == 2 * 2 + 4 * 4
