"""Fuzzing the loaders (issue 13): any exception other than medbalance's own clear errors is a bug.

Hypothesis harnesses for the manifest/CSV reader, the DICOM reader, the config
loader, the prediction-file reader and the model-bundle loader. They are marked
``slow`` (``make test-slow``) and bounded by ``max_examples``; crashing inputs they
found are kept as plain regression tests in ``tests/test_reliability_fuzz_found.py``.
Run longer with ``HYPOTHESIS_MAX_EXAMPLES=2000 make test-slow``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from medbalance.errors import MedbalanceError  # noqa: E402

pytestmark = pytest.mark.slow

#: What a loader may raise on bad input: the project's errors (the CLI prints them) or a missing file.
CLEAN = (MedbalanceError, FileNotFoundError)
MAX_EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "150"))
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_cells = st.one_of(
    st.text(alphabet=string.printable + "éü患\u00a0;", max_size=12),
    st.sampled_from(["", "NA", "benign", "malignant", "BENIGN", "train", "test", "val", "L", "R", "0.1", "-1",
                     "nan", "inf", "1e400", "../x.png", "C:\\a\\b.png", "\x00", '"', "a,b"]),
)  # fmt: skip
_columns = st.sampled_from(
    ["image_id", "path", "label", "patient_id", "split", "laterality", "pixel_spacing_mm", "breast_id", "fold",
     "view", "domain", "extra", ""]
)  # fmt: skip


def _csv_text(draw: Any) -> str:
    columns = draw(st.lists(_columns, min_size=0, max_size=8))
    rows = draw(st.lists(st.lists(_cells, min_size=len(columns), max_size=len(columns)), max_size=8))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(columns), *(sep.join(row) for row in rows)]
    return "\n".join(lines)


@st.composite
def csv_files(draw: Any) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    return _csv_text(draw).encode("utf-8")


@given(csv_files(), st.booleans())
@FUZZ
def test_fuzz_manifest_reader(content: bytes, with_sidecar: bool) -> None:
    from medbalance.data.manifest import load_manifest
    from medbalance.data.validate import validate_manifest

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.csv"
        path.write_bytes(content)
        if with_sidecar:
            (Path(tmp) / "manifest.meta.json").write_bytes(content[:40])
        try:
            manifest = load_manifest(path)
            validate_manifest(manifest, n_folds=2, check_images=True)
        except CLEAN:
            pass


@given(csv_files())
@FUZZ
def test_fuzz_csv_adapter(content: bytes) -> None:
    from medbalance.data.adapters import create_manifest

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        path.write_bytes(content)
        with contextlib.suppress(CLEAN):
            create_manifest("csv", path)


_DICOM_FLIPS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12)


def _small_dicom() -> bytes:
    import numpy as np

    from dicom_builders import dicom_file

    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 50
    uid = "1.2.826.0.1.3680043.8.498.1"  # fixed: byte offsets of found crashes stay valid
    return dicom_file(None, pixels, "MONOCHROME2", 12, uid=uid, WindowCenter=1600, WindowWidth=3200,
                      PixelSpacing=[0.1, 0.1])  # fmt: skip


_VALID_DICOM = _small_dicom()


@given(
    st.one_of(
        _DICOM_FLIPS.map(lambda flips: ("flip", flips)), st.binary(max_size=400).map(lambda b: ("raw", b))
    )
)
@FUZZ
def test_fuzz_dicom_reader(case: tuple[str, Any]) -> None:
    from medbalance.data.readers import inspect_image, read_image, read_pixel_spacing_mm

    kind, payload = case
    if kind == "flip":
        data = bytearray(_VALID_DICOM)
        for offset, value in payload:
            data[offset % len(data)] = value
    else:
        data = bytearray(b"\x00" * 128 + b"DICM" + payload)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.dcm"
        path.write_bytes(bytes(data))
        assert isinstance(inspect_image(path).ok, bool)  # never raises
        for read in (read_image, read_pixel_spacing_mm):
            with contextlib.suppress(CLEAN):
                read(path)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=10),
    st.sampled_from(["phantoms", "none", "focal", "resnet1", "cosine", "auto", "1", "[1,2]"]),
)  # fmt: skip
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)  # fmt: skip
_TRAIN_KEYS = [
    "out", "data", "strategy", "strategy_params", "model", "epochs", "batch_size", "lr", "optimizer", "scheduler",
    "image_size", "preprocess", "channels", "augmentation", "seed", "fractions", "positive_class", "classes",
    "freeze", "monitor", "top_k", "precision", "devices", "phantoms", "loggers", "unknown_key", "fold",
]  # fmt: skip


@given(st.one_of(
    st.dictionaries(st.sampled_from(_TRAIN_KEYS), _values, max_size=6).map(lambda d: ("dict", d)),
    st.text(max_size=200).map(lambda t: ("text", t)),
))  # fmt: skip
@FUZZ
def test_fuzz_train_config_loader(case: tuple[str, Any]) -> None:
    import yaml

    from medbalance.training.config import load_train_config

    kind, payload = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        text = yaml.safe_dump(payload, allow_unicode=True) if kind == "dict" else payload
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(CLEAN):
            load_train_config(path)


@st.composite
def run_folders(draw: Any) -> tuple[bytes, bytes, bytes]:
    classes = draw(
        st.one_of(st.just(["benign", "malignant"]), st.lists(st.text(max_size=4), max_size=3), _values)
    )
    summary: dict[str, Any] = {
        "classes": classes,
        "status": draw(st.sampled_from(["completed", "failed", 3])),
    }
    if draw(st.booleans()):
        summary["positive_class"] = draw(st.one_of(st.just("malignant"), _scalars))
    summary_bytes = json.dumps(summary).encode() if draw(st.booleans()) else draw(st.binary(max_size=40))
    names = [str(c) for c in classes] if isinstance(classes, list) else ["a", "b"]
    columns = ["image_id", "patient_id", "study_id", "breast_id", "lesion_id", "domain", "split", "label",
               *(f"prob_{c}" for c in names), *(f"logit_{c}" for c in names)]  # fmt: skip
    columns = draw(st.permutations(columns)) if draw(st.booleans()) else columns
    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["0.5", "1", "0"])
    )
    files = []
    for _ in range(2):
        rows = draw(st.lists(st.lists(st.one_of(numbers, _cells), min_size=len(columns), max_size=len(columns)),
                             max_size=5))  # fmt: skip
        files.append("\n".join([",".join(columns), *(",".join(r) for r in rows)]).encode())
    return summary_bytes, files[0], files[1]


@given(run_folders())
@FUZZ
def test_fuzz_prediction_file_reader(case: tuple[bytes, bytes, bytes]) -> None:
    from medbalance.evaluation.run_folder import load_run_predictions

    summary, val, test = case
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        (run / "summary.json").write_bytes(summary)
        (run / "predictions_val.csv").write_bytes(val)
        (run / "predictions_test.csv").write_bytes(test)
        with contextlib.suppress(CLEAN):
            load_run_predictions(run)


_BUNDLE_KEYS = ["format_version", "task", "classes", "positive_class", "model", "preprocessing", "normalisation",
                "logit_map", "calibration", "threshold", "prevalence", "files"]  # fmt: skip


@pytest.fixture(scope="module")
def bundle_copy(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "bundle"
    shutil.copytree(bundle_dir, out)
    return out


@given(
    st.dictionaries(st.sampled_from(_BUNDLE_KEYS), _values, min_size=1, max_size=3),
    st.sampled_from(["replace", "nested"]),
    st.one_of(st.none(), st.binary(max_size=64)),
)
@settings(max_examples=max(10, MAX_EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz_bundle_loader(
    bundle_copy: Path, changes: dict[str, Any], how: str, weights: bytes | None
) -> None:
    """Mutated bundle.json (re-digested, so the checks past the digest run) and damaged weights."""
    from medbalance.inference.bundle import load_bundle, spec_digest
    from medbalance.io import file_sha256

    spec = json.loads((bundle_copy / "bundle.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "b"
        shutil.copytree(bundle_copy, folder)
        for key, value in changes.items():
            if how == "nested" and isinstance(spec.get(key), dict) and spec[key]:
                spec[key][sorted(spec[key])[0]] = value
            else:
                spec[key] = value
        if weights is not None:
            (folder / "model.safetensors").write_bytes(weights)
            if isinstance(spec.get("files"), dict):
                spec["files"]["model.safetensors"] = file_sha256(folder / "model.safetensors")
        try:
            spec["spec_sha256"] = spec_digest(spec)
        except (TypeError, ValueError):  # a value JSON cannot hold canonically (NaN): write it anyway
            spec["spec_sha256"] = "x"
        (folder / "bundle.json").write_text(json.dumps(spec), encoding="utf-8")
        with contextlib.suppress(CLEAN):
            load_bundle(folder)
