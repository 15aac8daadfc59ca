"""ONNX export of a bundle's network, checked against PyTorch with onnxruntime.

Needs the optional extra ``medbalance[onnx]`` (onnx, onnxruntime, onnxscript).
The exported graph maps images in [0, 1] (B, C, H, W) to softmax probabilities
(normalisation and the post-hoc logit map inside); calibration and threshold
stay in ``bundle.json``. :func:`export_onnx` refuses to keep a graph whose
probabilities differ from PyTorch's by more than ``tolerance`` on the check inputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medbalance.errors import ConfigError
from medbalance.inference._network import BundleNetwork, ProbabilityNetwork
from medbalance.inference.bundle import BundleError

__all__ = ["check_onnx", "export_onnx"]


def _require() -> None:
    missing = []
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ConfigError(
            f"--onnx needs {', '.join(missing)}; install them with `pip install 'medbalance[onnx]'`."
        )


def check_onnx(path: Path, network: BundleNetwork, inputs: np.ndarray) -> float:
    """Largest absolute difference between onnxruntime's and PyTorch's probabilities on ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = session.run(None, {name: inputs.astype(np.float32)})[0]
    with torch.inference_mode():
        cpu = ProbabilityNetwork(network).to("cpu").eval()
        want = cpu(torch.from_numpy(inputs.astype(np.float32))).numpy()
    return float(np.max(np.abs(np.asarray(got) - want)))


def export_onnx(
    network: BundleNetwork, path: Path, *, channels: int, size: int, tolerance: float = 1e-4, n_check: int = 4,
    seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Write ``path`` (.onnx, dynamic batch) and check it; returns what the check found.

    Raises:
        ConfigError: the onnx extra is not installed.
        BundleError: the export failed or its probabilities differ by more than ``tolerance``.
    """
    _require()
    device = next(network.parameters()).device
    network.to("cpu")
    model = ProbabilityNetwork(network).eval()
    example = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(seed))
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=["images"], output_names=["probabilities"],
                dynamic_shapes={"images": {0: batch}}, dynamo=True, verbose=False,
            )  # fmt: skip
    except Exception as exc:  # the exporter raises many error types
        raise BundleError(f"ONNX export of model failed: {type(exc).__name__}: {exc}") from exc
    rng = np.random.default_rng(seed)
    inputs = rng.random((n_check, channels, size, size), dtype=np.float32)
    diff = check_onnx(path, network, inputs)
    network.to(device)
    if not diff <= tolerance:
        path.unlink(missing_ok=True)
        raise BundleError(
            f"the ONNX graph's probabilities differ from PyTorch's by {diff:.2e} (> {tolerance:g}) on "
            f"{n_check} check inputs; the model uses an operation the exporter does not reproduce. "
            "Export without --onnx."
        )
    return {"file": path.name, "checked_inputs": n_check, "max_abs_diff": diff, "tolerance": tolerance,
            "output": "softmax probabilities (before calibration)"}  # fmt: skip
