"""A model bundle: ``model.safetensors`` + ``bundle.json`` (+ ``model.onnx``), loaded without pickle.

``bundle.json`` holds everything needed to turn an image file into a calibrated
probability and a decision (see ``docs/predict.md`` for every key): the class
names and positive class, the model name and input size/channels, the
preprocessing config, the normalisation, the strategy's post-hoc logit map, the
calibration map with its fitted parameters, the threshold with its validation
evidence, the training prevalence, the medbalance version, and the SHA-256 of
every other file plus one of the JSON itself.

Example:
    >>> bundle = load_bundle("model/")  # doctest: +SKIP
    >>> bundle.predict(["a.png", "b.dcm"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medbalance.data.preprocess import PreprocessConfig
from medbalance.errors import CheckpointError
from medbalance.inference._network import BundleNetwork
from medbalance.inference.calibration import CalibrationMap
from medbalance.io import file_sha256

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_FORMAT_VERSION",
    "ONNX_FILE",
    "WEIGHTS_FILE",
    "Bundle",
    "BundleError",
    "load_bundle",
    "spec_digest",
]

BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"


class BundleError(CheckpointError):
    """A model bundle is missing a file, was modified, or does not fit this medbalance."""


def spec_digest(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the bundle JSON without its own ``spec_sha256`` key (canonical form)."""
    body = {k: v for k, v in spec.items() if k != "spec_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()


@dataclass
class Bundle:
    """A loaded bundle: the spec (``bundle.json``), the network and the calibration map.

    Attributes:
        spec: the content of ``bundle.json``.
        network: images in [0, 1] -> adjusted logits (normalisation inside).
        calibration: the positive-class calibration map.
        folder: where it was loaded from (None when built in memory by ``explain``).
    """

    spec: dict[str, Any]
    network: BundleNetwork
    calibration: CalibrationMap
    folder: Path | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in output order."""
        return tuple(self.spec["classes"])

    @property
    def positive_class(self) -> str | None:
        """The positive class (binary bundles)."""
        return self.spec.get("positive_class")

    @property
    def is_binary(self) -> bool:
        """Two classes with a positive class and a threshold."""
        return (
            len(self.classes) == 2
            and self.positive_class in self.classes
            and self.spec.get("threshold") is not None
        )

    @property
    def threshold(self) -> float | None:
        """The decision threshold on the uncalibrated positive-class probability."""
        entry = self.spec.get("threshold")
        return None if entry is None else float(entry["value"])

    @property
    def preprocessing(self) -> PreprocessConfig:
        """The preprocessing the model was trained with (without mean/std: that is ``normalisation``)."""
        return PreprocessConfig(**self.spec["preprocessing"])

    def to(self, device: str | torch.device) -> Bundle:
        """Move the network to ``device``."""
        self.network.to(device)
        return self

    def predict(self, items: Iterable[Any], **options: Any) -> pd.DataFrame:
        """Predict image files or arrays; one row per image (see :func:`medbalance.inference.predict_images`)."""
        from medbalance.inference.predict import predict_images

        return predict_images(self, items, **options)


def _check_files(folder: Path, spec: Mapping[str, Any]) -> None:
    files = spec.get("files")
    if not isinstance(files, dict) or WEIGHTS_FILE not in files:
        raise BundleError(f"{folder / BUNDLE_FILE} lists no files with SHA-256; re-export the bundle.")
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name:
            raise BundleError(
                f"{folder / BUNDLE_FILE} names a file outside the bundle ({name!r}); re-export it."
            )
        if not path.is_file():
            raise BundleError(
                f"{path} is missing from the bundle; copy the whole folder, or re-export it with `medbalance export`."
            )
        if file_sha256(path) != digest:
            raise BundleError(
                f"{path} does not match the SHA-256 recorded in {BUNDLE_FILE} (the file was modified or damaged); "
                "restore the original file or re-export the bundle with `medbalance export`."
            )


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (export writes none)")


def read_bundle_spec(folder: str | Path) -> dict[str, Any]:
    """``bundle.json``, checked: format version, its own digest, and every file's SHA-256.

    Raises:
        BundleError: missing or unreadable JSON, a newer format, a modified or missing file.
    """
    folder = Path(folder)
    path = folder / BUNDLE_FILE
    if not path.is_file():
        hint = (
            " (it is a run folder: export it first with `medbalance export`)"
            if (folder / "summary.json").is_file()
            else ""
        )
        raise BundleError(f"{path} does not exist{hint}; pass a folder written by `medbalance export`.")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, bad UTF-8, NaN/Infinity (found by fuzzing)
        raise BundleError(f"{path} is not readable JSON ({exc}); re-export the bundle.") from exc
    if not isinstance(spec, dict):
        raise BundleError(f"{path} must hold a JSON object; re-export the bundle.")
    version = spec.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(f"{path} has no valid format_version ({version!r}); re-export the bundle.")
    if version > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path} has format_version {version}, newer than this medbalance reads ({BUNDLE_FORMAT_VERSION}); "
            f"upgrade medbalance (the bundle was written by medbalance {spec.get('medbalance_version')})."
        )
    if spec.get("spec_sha256") != spec_digest(spec):
        raise BundleError(
            f"{path} was modified after export (its spec_sha256 does not match its content); "
            "restore the original or re-export the bundle with `medbalance export`."
        )
    _check_files(folder, spec)
    return spec


def build_bundle(
    spec: dict[str, Any], state: Mapping[str, torch.Tensor], *, where: str, folder: Path | None = None
) -> Bundle:
    """A :class:`Bundle` from its spec and weights (no file access).

    Raises:
        BundleError: a spec field of the wrong shape, or weights that do not fit the model named in
            the spec (e.g. another class count).
    """
    _check_spec(spec, where)
    try:
        return _build(spec, state, where=where, folder=folder)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # found by fuzzing
        raise BundleError(
            f"{where}: bundle.json holds an unusable value ({type(exc).__name__}: {exc}); re-export the bundle."
        ) from exc


def _check_spec(spec: Mapping[str, Any], where: str) -> None:
    """The fields every use of a bundle relies on, with the shape export writes."""
    classes = spec.get("classes")
    problems = []
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes) \
            or len(set(classes)) != len(classes):  # fmt: skip
        problems.append(f"'classes' must list at least two distinct names, got {classes!r}")
    positive = spec.get("positive_class")
    if positive is not None and (not isinstance(classes, list) or positive not in classes):
        problems.append(f"'positive_class' {positive!r} is not one of the classes")
    model = spec.get("model")
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("name"), str)
        or model.get("in_chans") not in (1, 3)
    ):
        problems.append(f"'model' must hold a name and in_chans 1 or 3, got {model!r}")
    for key in ("preprocessing", "normalisation", "logit_map", "calibration", "threshold", "prevalence"):
        if spec.get(key) is not None and not isinstance(spec[key], dict):
            problems.append(f"{key!r} must be an object, got {type(spec[key]).__name__}")
    if problems:
        raise BundleError(f"{where}: bundle.json is malformed: {'; '.join(problems)}. Re-export the bundle.")


def _build(
    spec: dict[str, Any], state: Mapping[str, torch.Tensor], *, where: str, folder: Path | None = None
) -> Bundle:
    from medbalance.training.models import create_model

    model_spec = spec["model"]
    classes = list(spec["classes"])
    model = create_model(
        str(model_spec["name"]),
        num_classes=len(classes),
        in_chans=1 if int(model_spec["in_chans"]) == 1 else 3,
        head="cosine" if model_spec.get("head") == "cosine" else "linear",  # bundles before heads: linear
    )
    expected = model.state_dict()
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if wrong:
        key = wrong[-1]
        raise BundleError(
            f"{where}: the weights do not fit {len(classes)} classes {classes} of model {model_spec['name']!r} "
            f"({key} has shape {tuple(state[key].shape)}, the model needs {tuple(expected[key].shape)}); "
            "the class list in bundle.json and the weights come from different runs. Re-export the bundle."
        )
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise BundleError(
            f"{where}: weights do not fit model {model_spec['name']!r}: {str(exc).splitlines()[0]}"
        ) from exc
    model.eval()
    norm = spec.get("normalisation") or {}
    adjust = spec.get("logit_map") or {}
    network = BundleNetwork(
        model, mean=norm.get("mean"), std=norm.get("std"),
        scale=adjust.get("scale", [1.0] * len(classes)), offset=adjust.get("offset", [0.0] * len(classes)),
    ).eval()  # fmt: skip
    try:
        calibration = CalibrationMap.from_dict(spec.get("calibration") or {"method": "none"})
    except ValueError as exc:
        raise BundleError(f"{where}: {exc} Re-export the bundle.") from exc
    return Bundle(spec, network, calibration, folder)


def load_bundle(folder: str | Path, *, device: str = "cpu") -> Bundle:
    """Load a bundle written by ``medbalance export``: JSON and safetensors only, never pickle.

    Args:
        folder: the bundle folder.
        device: "cpu", "cuda", "cuda:1" or "auto" (a GPU when there is one).

    Raises:
        BundleError: missing or modified file, newer format version, weights that do not fit.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    spec = read_bundle_spec(folder)
    weights = folder / WEIGHTS_FILE
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types on a damaged header
        raise BundleError(
            f"{weights} is not a readable safetensors file ({exc}); re-export the bundle."
        ) from exc
    bundle = build_bundle(spec, state, where=str(weights), folder=folder)
    return bundle.to(resolve_device(device))


def resolve_device(device: str) -> torch.device:
    """ "auto" -> the first GPU when available, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def positive_scores(bundle: Bundle, probs: np.ndarray) -> np.ndarray:
    """The uncalibrated positive-class probability of each row of ``probs``."""
    return probs[:, bundle.classes.index(str(bundle.positive_class))]
