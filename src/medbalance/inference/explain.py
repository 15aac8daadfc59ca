"""Grad-CAM heat maps (captum's ``LayerGradCam``) and overlay images.

The target layer is found generically: the last ``Conv2d`` of the model
(:func:`medbalance.inference._network.find_last_conv`), which works for timm
CNNs and medbalance's ``small-cnn`` and ``resnet22``. Maps are computed for the
positive class (binary) or the predicted class, ReLU'd, upsampled to the input
size with captum's ``LayerAttribution.interpolate`` and scaled to [0, 1] per image.

Overlays show the preprocessed image in grey, the map in colour, and, when
known, the lesion outlines (mini-MIAS circles, phantom lesions) mapped into the
preprocessed image, so a reader sees whether the map points at the finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from medbalance.inference._network import find_last_conv
from medbalance.inference.bundle import Bundle

__all__ = [
    "Circle",
    "compute_gradcam",
    "compute_gradcam_maps",
    "draw_overlay",
    "peak_in_circles",
    "require_captum",
    "write_overlay",
]

Circle = tuple[float, float, float]
"""(row, col, radius) in pixels of the preprocessed image."""


def require_captum() -> None:
    """Refuse early, naming the extra to install, when captum (Grad-CAM) is missing."""
    try:
        import captum  # noqa: F401
    except ImportError as exc:
        from medbalance.errors import ConfigError

        raise ConfigError(
            "explanations need captum; install it with `pip install 'medbalance[explain]'`."
        ) from exc


def compute_gradcam_maps(
    network: nn.Module, layer: nn.Module, arrays: np.ndarray, target: int | None, *, batch_size: int = 16
) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] of ``network``'s output ``target`` (None: the arg-max) at ``layer``."""
    require_captum()
    from captum.attr import LayerAttribution, LayerGradCam

    network.eval()
    device = next(network.parameters()).device
    cam = LayerGradCam(network, layer)
    size = tuple(arrays.shape[-2:])
    maps = []
    for start in range(0, len(arrays), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(arrays[start : start + batch_size], dtype=np.float32)).to(
            device
        )
        if target is None:
            with torch.no_grad():
                chosen: int | torch.Tensor = network(x).argmax(dim=1)
        else:
            chosen = target
        attr = cam.attribute(x, target=chosen, relu_attributions=True)
        up = LayerAttribution.interpolate(attr, size, interpolate_mode="bilinear")
        maps.append(up.detach().cpu().numpy()[:, 0])
    out = np.concatenate(maps) if maps else np.zeros((0, *size), np.float32)
    peak = out.reshape(len(out), -1).max(axis=1) if len(out) else np.zeros(0)
    return out / np.where(peak > 0, peak, 1.0)[:, None, None]


def compute_gradcam(bundle: Bundle, arrays: np.ndarray, *, batch_size: int = 16) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] of preprocessed arrays (N, C, H, W) at the model's last conv.

    The map is for the positive class of a binary bundle, else the predicted class.
    """
    target = bundle.classes.index(str(bundle.positive_class)) if bundle.is_binary else None
    layer = find_last_conv(bundle.network.model)
    return compute_gradcam_maps(bundle.network, layer, arrays, target, batch_size=batch_size)


def draw_overlay(
    ax: object, image: np.ndarray, heat: np.ndarray, circles: Sequence[Circle] = (), title: str = ""
) -> None:
    """Draw ``image`` (C, H, W) in grey, ``heat`` (H, W) in jet, and lesion circles on a matplotlib axis."""
    from matplotlib.patches import Circle as CirclePatch

    grey = image.mean(axis=0) if image.ndim == 3 else image
    ax.imshow(grey, cmap="gray", vmin=0.0, vmax=1.0)  # type: ignore[attr-defined]
    ax.imshow(heat, cmap="jet", alpha=0.4 * (heat > 0.05), vmin=0.0, vmax=1.0)  # type: ignore[attr-defined]
    for row, col, radius in circles:
        ax.add_patch(CirclePatch((col, row), max(radius, 1.0), fill=False, edgecolor="lime", linewidth=1.2))  # type: ignore[attr-defined]
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    ax.plot([peak[1]], [peak[0]], marker="+", color="white", markersize=8)  # type: ignore[attr-defined]
    ax.set_title(title, fontsize=7)  # type: ignore[attr-defined]
    ax.set_axis_off()  # type: ignore[attr-defined]


def write_overlay(
    path: Path, image: np.ndarray, heat: np.ndarray, circles: Sequence[Circle] = (), title: str = ""
) -> Path:
    """One overlay PNG (the white + marks the map's peak, green circles the lesions)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 3.2), dpi=100)
    try:
        draw_overlay(ax, image, heat, circles, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def peak_in_circles(heat: np.ndarray, circles: Sequence[Circle]) -> bool:
    """Whether the map's maximum lies inside one of the circles."""
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return any((row - r) ** 2 + (col - c) ** 2 <= rad**2 for r, c, rad in circles)
