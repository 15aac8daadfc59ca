"""Synthetic mammography phantoms: medbalance's embedded default data set.

A deterministic generator of mammograms with known labels, so the main job runs
on a fresh machine with no download, and tests have images with real structure.
Each patient has two breasts (L, R) imaged in two views (CC, MLO); a breast is
malignant (spiculated mass, malignant calcification cluster or architectural
distortion, seen in both views) or not (normal, or a benign circumscribed mass
or coarse calcifications: a model must not learn "any lesion = malignant").
Patients come from acquisition domains (vendors) that differ in response,
noise, blur and contrast, for out-of-distribution tests.

Example:
    >>> config = PhantomConfig(n_patients=50, prevalence=0.05, size=128, seed=0)
    >>> phantoms = generate_phantoms(config)             # in memory
    >>> phantoms.manifest.class_counts()                 # doctest: +SKIP
    {'non-malignant': 380, 'malignant': 20}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from medbalance.constraints import check_constraints, option
from medbalance.data.manifest import Manifest
from medbalance.defaults import phantom_option
from medbalance.errors import ConfigError
from medbalance.io import atomic_save, check_output_dir, replace_dir
from medbalance.outputs import claim_output_dir
from medbalance.registry import look_up_option
from medbalance.synth._domains import DOMAINS
from medbalance.synth._render import BENIGN_KINDS, MALIGNANT_KINDS, plan_breasts, render_view

__all__ = [
    "BENIGN_KINDS",
    "CLASSES",
    "MALIGNANT_KINDS",
    "PhantomConfig",
    "PhantomSet",
    "generate_phantoms",
    "list_domains",
    "prevalence_from_ratio",
]

CLASSES = ("non-malignant", "malignant")
#: Physical height of the field of view used to derive the default spacing.
FIELD_OF_VIEW_MM = 160.0


def prevalence_from_ratio(ratio: float) -> float:
    """Prevalence of the minority for a majority:minority ratio (19 -> 0.05)."""
    if ratio <= 0:
        raise ConfigError(f"imbalance ratio must be positive, got {ratio}.")
    return 1.0 / (1.0 + ratio)


def list_domains() -> list[str]:
    """Names of the acquisition domains (vendors)."""
    return sorted(DOMAINS)


@dataclass(frozen=True)
class PhantomConfig:
    """What phantom data set to generate.

    Attributes:
        n_patients: patients; each gives 4 images (L/R x CC/MLO).
        prevalence: share of malignant BREASTS, strictly between 0 and 1
            (0.05 is 19:1; see :func:`prevalence_from_ratio`).
        size: side of the square images in pixels.
        spacing_mm: pixel spacing; default: a 160 mm field of view over ``size``.
        domains: acquisition vendors, assigned to patients in turn.
        lesion_contrast: scale of the lesion models' native contrast (1.0);
            lower is harder. The default was chosen so a small CNN reaches an
            AUC well above chance but below 1 (docs/phantoms.md).
        lesion_scale: factor on every length of the lesion models (size,
            specks, spicules). At phantom resolutions (1.25 mm per pixel at
            128 px) real-sized specks and spicules are sub-pixel; the default
            enlarges findings so they stay visible (docs/phantoms.md).
        benign_finding_rate: share of non-malignant breasts with a benign finding.
        density_mix: shares of BI-RADS density A, B, C, D.
        seed: the same seed gives the same pixels, bit for bit.
    """

    n_patients: int = phantom_option("n_patients")
    prevalence: float = phantom_option("prevalence")
    size: int = phantom_option("size")
    spacing_mm: float | None = option(
        None, gt=0.0, fix="give a positive number of millimetres per pixel, or null."
    )
    domains: tuple[str, ...] = phantom_option("domains")
    lesion_contrast: float = phantom_option("lesion_contrast")
    lesion_scale: float = option(3.0, ge=0.25, le=4.0)
    benign_finding_rate: float = option(0.3, ge=0.0, le=1.0)
    density_mix: tuple[float, float, float, float] = option((0.1, 0.4, 0.4, 0.1), ge=0.0)
    seed: int = option(0, ge=0)
    _resolved_spacing: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        check_constraints(self, "phantoms")
        if self.spacing_mm is not None and not math.isfinite(self.spacing_mm):
            raise ConfigError(
                f"phantoms: spacing_mm must be finite, got {self.spacing_mm}. Fix: give millimetres per pixel."
            )
        if not self.domains:
            raise ConfigError("domains must name at least one vendor, e.g. vendor-a.")
        for name in self.domains:
            look_up_option(name, DOMAINS, what="phantom domain")
        mix = np.asarray(self.density_mix, dtype=float)
        if mix.shape != (4,) or not math.isclose(mix.sum(), 1.0, abs_tol=1e-6):
            raise ConfigError(
                f"phantoms: density_mix must be 4 non-negative shares summing to 1, got {self.density_mix}."
            )
        spacing = self.spacing_mm if self.spacing_mm is not None else FIELD_OF_VIEW_MM / self.size
        object.__setattr__(self, "_resolved_spacing", float(spacing))

    @property
    def pixel_spacing_mm(self) -> float:
        """The spacing in use (given, or derived from the field of view)."""
        return self._resolved_spacing


@dataclass(frozen=True)
class PhantomSet:
    """A generated data set: its manifest and, in memory, its images.

    Attributes:
        manifest: one row per image (label, patient, breast, view, laterality,
            domain, spacing, density, finding, lesion records).
        images: image_id -> float32 (H, W) in [0, 1]; empty when written to disk.
    """

    manifest: Manifest
    images: dict[str, np.ndarray]


def generate_phantoms(
    config: PhantomConfig,
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PhantomSet:
    """Generate a phantom data set, in memory or as 16-bit PNGs plus ``manifest.csv``.

    Args:
        config: what to generate.
        out_dir: when given, images go to ``out_dir/images/*.png`` (uint16) and the
            manifest to ``out_dir/manifest.csv``; the folder must be new or empty
            unless ``overwrite``; it appears only once complete.
        overwrite: replace an existing ``out_dir``.
        progress: called with (done, total) images.

    Returns:
        The manifest and, in memory, the images (empty dict when written to disk).
    """
    if out_dir is None:
        return _generate(config, None, overwrite, progress)
    with claim_output_dir(out_dir):  # a second writer of the same folder is refused
        return _generate(config, Path(out_dir), overwrite, progress)


def _generate(
    config: PhantomConfig, out_dir: Path | None, overwrite: bool, progress: Callable[[int, int], None] | None
) -> PhantomSet:
    staging = None
    if out_dir is not None:
        check_output_dir(out_dir, overwrite=overwrite)
        staging = out_dir.with_name(f".{out_dir.name}.staging")
        if staging.exists():
            import shutil

            shutil.rmtree(staging)
        (staging / "images").mkdir(parents=True)
    rng = np.random.default_rng(config.seed)
    plan = plan_breasts(config, rng)
    rows: list[dict[str, str]] = []
    images: dict[str, np.ndarray] = {}
    total = 2 * len(plan)
    for index, breast in enumerate(plan):
        for view in ("CC", "MLO"):
            rendered = render_view(breast, view, config)
            image, records = rendered.image, rendered.records
            image_id = f"{breast.patient}_{breast.laterality}_{view}"
            path = f"images/{image_id}.png"
            if staging is not None:
                _save_png16(staging / path, image)
            else:
                images[image_id] = image
            rows.append(
                {
                    "image_id": image_id,
                    "path": path,
                    "label": CLASSES[int(breast.malignant)],
                    "patient_id": breast.patient,
                    "breast_id": f"{breast.patient}_{breast.laterality}",
                    "view": view,
                    "laterality": breast.laterality,
                    "domain": breast.domain,
                    "pixel_spacing_mm": f"{config.pixel_spacing_mm:.6g}",
                    "density": breast.density,
                    "finding": ";".join(breast.findings) or "none",
                    "lesions": json.dumps([r.to_dict() for r in records]),
                }
            )
            if progress is not None:
                progress(2 * index + (view == "MLO") + 1, total)
    root = staging if staging is not None else Path.cwd()
    manifest = Manifest(
        pd.DataFrame(rows),
        classes=CLASSES,
        root=root,
        positive_class="malignant",
        task="malignancy",
        source=f"phantoms(seed={config.seed})",
    )
    if staging is None or out_dir is None:
        return PhantomSet(manifest=manifest, images=images)
    manifest.save(staging / "manifest.csv")
    replace_dir(staging, out_dir)
    from medbalance.data.manifest import load_manifest

    return PhantomSet(manifest=load_manifest(out_dir / "manifest.csv"), images={})


def _save_png16(path: Path, image: np.ndarray) -> None:
    pixels = np.round(np.clip(image, 0.0, 1.0) * 65535).astype(np.uint16)
    atomic_save(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))
