"""Plan and render the breasts of a phantom set (labels, findings, anatomy, acquisition).

A plan fixes, per breast, the label, finding, density, vendor and a seed; each
view is then rendered from generators derived from that seed alone, so one image
never depends on the others and the same seed gives the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medbalance.errors import DataError
from medbalance.synth._anatomy import DENSITY_FRACTIONS, Anatomy, draw_anatomy
from medbalance.synth._domains import DOMAINS, acquire
from medbalance.synth.insertion import LesionRecord, insert_lesion

if TYPE_CHECKING:
    from medbalance.synth.phantoms import PhantomConfig

__all__ = [
    "BENIGN_KINDS",
    "MALIGNANT_KINDS",
    "MALIGNANT_MIX",
    "Breast",
    "RenderedView",
    "plan_breasts",
    "render_view",
]

#: Share of each malignant presentation among malignant breasts, in the order of screening
#: practice: a mass is the commonest sign of a screen-detected cancer, calcifications alone
#: the next, architectural distortion the rarest. It also sets what a model can learn from:
#: at 64-128 px a distortion is barely visible (docs/phantoms.md, "Calibration").
MALIGNANT_MIX: dict[str, float] = {"mass": 0.6, "calcification": 0.3, "distortion": 0.1}
MALIGNANT_KINDS = tuple(MALIGNANT_MIX)
BENIGN_KINDS = ("circumscribed-mass", "coarse-calcification")
#: Contrast ranges (the lesion models' own, times ``lesion_contrast``, capped). Benign
#: circumscribed masses get 60% of a malignant mass's: malignant masses are mostly
#: high-density, benign ones often iso-dense (BI-RADS mass density).
_CONTRAST: dict[str, tuple[tuple[str, float, float, float], ...]] = {
    "mass": (("contrast", 0.2, 0.4, 0.95),),
    "circumscribed-mass": (("contrast", 0.12, 0.24, 0.6),),
    "calcification": (("contrast", 0.4, 0.7, 0.99),),
    "coarse-calcification": (("contrast", 0.4, 0.7, 0.99),),
    "distortion": (("strength", 0.4, 0.8, 1.0), ("contrast", 0.06, 0.12, 0.5)),
}
#: Diameter range (mm, in the phantom) of each finding; ``lesion_scale`` enlarges only
#: the fine structure (specks, spicules, strands) that would be sub-pixel at phantom resolution.
_SIZE_MM = {
    "mass": (10.0, 30.0),
    "circumscribed-mass": (10.0, 30.0),
    "calcification": (10.0, 25.0),
    "coarse-calcification": (15.0, 35.0),
    "distortion": (20.0, 45.0),
}
#: Fixed overrides of the lesion models for phantoms, in the models' millimetres: the
#: largest specks of the model's range (0.75-1.0 mm) and thicker distortion strands, so
#: calcifications and distortions are not lost entirely at 64-128 pixels.
_FIXED: dict[str, dict[str, float]] = {
    "calcification": {"min_diameter_mm": 0.75},
    "distortion": {"strand_radius_mm": 0.3},
}
#: Integer parameters drawn per finding: a malignant cluster of 15-30 specks (the upper
#: half of the model's 5-30), so it reads as a cluster, not as one or two coarse specks.
_COUNTS: dict[str, tuple[str, int, int]] = {"calcification": ("n_specks", 15, 30)}
#: Smaller lesion scales tried, in turn, when a finding does not fit in a small breast.
_SHRINK = (1.0, 0.75, 0.5, 0.35, 0.25)


@dataclass(frozen=True)
class Breast:
    """What one breast of the set is: its label, finding, look and seed."""

    patient: str
    laterality: str
    domain: str
    density: str
    findings: tuple[str, ...]
    malignant: bool
    seed: int


@dataclass(frozen=True)
class RenderedView:
    """One image in display orientation, its lesion records and its masks (mirrored like it)."""

    image: np.ndarray
    records: list[LesionRecord]
    breast: np.ndarray
    pectoral: np.ndarray


def plan_breasts(config: PhantomConfig, rng: np.random.Generator) -> list[Breast]:
    """Labels, findings, density and vendor per breast, with an exact number of malignant breasts."""
    n_breasts = 2 * config.n_patients
    n_malignant = min(n_breasts - 1, max(1, round(config.prevalence * n_breasts)))
    malignant = np.zeros(n_breasts, dtype=bool)
    malignant[rng.choice(n_breasts, size=n_malignant, replace=False)] = True
    densities = rng.choice(list(DENSITY_FRACTIONS), size=n_breasts, p=list(config.density_mix))
    plan = []
    for index in range(n_breasts):
        patient = index // 2
        if malignant[index]:
            findings: tuple[str, ...] = (str(rng.choice(MALIGNANT_KINDS, p=list(MALIGNANT_MIX.values()))),)
        elif rng.random() < config.benign_finding_rate:
            findings = (str(rng.choice(BENIGN_KINDS)),)
        else:
            findings = ()
        plan.append(
            Breast(
                patient=f"P{patient:04d}",
                laterality="L" if index % 2 == 0 else "R",
                domain=config.domains[patient % len(config.domains)],
                density=str(densities[patient * 2]),  # both breasts of a patient share a density
                findings=findings,
                malignant=bool(malignant[index]),
                seed=int(rng.integers(2**31)),
            )
        )
    return plan


def render_view(breast: Breast, view: str, config: PhantomConfig) -> RenderedView:
    """One image of one breast; the finding keeps its relative place and shape across views."""
    spacing = config.pixel_spacing_mm
    view_rng = np.random.default_rng([breast.seed, 0 if view == "CC" else 1])
    anatomy = draw_anatomy(view, breast.density, config.size, spacing, view_rng)  # type: ignore[arg-type]
    image = anatomy.image
    records: list[LesionRecord] = []
    finding_rng = np.random.default_rng([breast.seed, 7])
    for kind in breast.findings:
        params = {
            name: float(min(cap, finding_rng.uniform(low, high) * config.lesion_contrast))
            for name, low, high, cap in _CONTRAST[kind]
        }
        params["size_mm"] = float(finding_rng.uniform(*_SIZE_MM[kind]) / config.lesion_scale)
        params.update(_FIXED.get(kind, {}))
        if kind in _COUNTS:
            name, low, high = _COUNTS[kind]
            params[name] = int(finding_rng.integers(low, high + 1))
        depth, height = finding_rng.uniform(0.25, 0.6), finding_rng.uniform(0.3, 0.7)
        centre = _place(anatomy.breast & ~anatomy.pectoral, depth, height)
        image, record = _insert(image, anatomy, kind, config, breast.seed, centre, params)
        records.append(record)
    acquired = acquire(image, anatomy.breast, DOMAINS[breast.domain], spacing, view_rng)
    masks = anatomy.breast, anatomy.pectoral
    if breast.laterality == "R":  # right breasts: chest wall on the right edge
        acquired = acquired[:, ::-1].copy()
        masks = masks[0][:, ::-1].copy(), masks[1][:, ::-1].copy()
        records = [
            LesionRecord(
                r.kind, (r.center[0], config.size - 1 - r.center[1]), r.size_mm, r.malignant, r.params
            )
            for r in records
        ]
    return RenderedView(image=acquired, records=records, breast=masks[0], pectoral=masks[1])


def _insert(
    image: np.ndarray,
    anatomy: Anatomy,
    kind: str,
    config: PhantomConfig,
    seed: int,
    centre: tuple[int, int] | None,
    params: dict[str, Any],
) -> tuple[np.ndarray, LesionRecord]:
    """Insert at ``centre``, else anywhere it fits, else smaller; sizes scaled by ``lesion_scale``.

    The lesion is rendered at ``spacing / scale``: every length of the model grows
    by ``scale`` in the image. The record's ``size_mm`` is the size in the phantom;
    its ``params`` stay in the model's own millimetres (``lesion_scale`` says by how much).
    """
    for shrink in _SHRINK:
        scale = config.lesion_scale * shrink
        for where in (centre, None):
            try:
                out, record = insert_lesion(
                    image,
                    anatomy.breast,
                    kind=kind,
                    spacing_mm=config.pixel_spacing_mm / scale,
                    rng=np.random.default_rng([seed, 11]),
                    center=where,
                    exclude_mask=anatomy.pectoral,
                    **params,
                )
            except DataError:
                continue  # no room here: try anywhere, then a smaller lesion
            params_out = {**record.params, "lesion_scale": round(scale, 6)}
            return out, LesionRecord(
                kind, record.center, record.size_mm * scale, record.malignant, params_out
            )
    raise DataError(
        f"no room for a {kind} lesion in a {config.size}-pixel phantom breast even at a quarter of its size; "
        "use a larger size or a smaller lesion_scale."
    )


def _place(region: np.ndarray, depth: float, height: float) -> tuple[int, int] | None:
    """The region pixel nearest to a relative (depth from chest wall, height) position."""
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        return None
    target_c = cols.min() + depth * (cols.max() - cols.min())
    target_r = rows.min() + height * (rows.max() - rows.min())
    best = int(np.argmin((rows - target_r) ** 2 + (cols - target_c) ** 2))
    return int(rows[best]), int(cols[best])
