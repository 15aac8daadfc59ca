"""Lesion models: random-sphere statistics, shapes, sizes in mm, parameter errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import measure

from medbalance.errors import ConfigError
from medbalance.synth import LESIONS
from medbalance.synth.lesions._sphere import (
    evaluate_log_radius,
    real_sph_harm,
    sample_log_radius_coefficients,
)

KINDS = ["mass", "circumscribed-mass", "calcification", "coarse-calcification", "distortion"]


def test_registry_lists_the_five_kinds_with_malignancy() -> None:
    assert LESIONS.names() == sorted(KINDS)
    malignant = {name: LESIONS.get(name).malignant for name in KINDS}
    assert malignant == {
        "mass": True,
        "circumscribed-mass": False,
        "calcification": True,
        "coarse-calcification": False,
        "distortion": True,
    }


def test_unknown_kind_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'mass'"):
        LESIONS.get("mas")


def test_real_harmonics_are_orthonormal() -> None:
    # Gauss-Legendre in cos(polar) x uniform azimuth integrates degree <= 8 products exactly
    nodes, weights = np.polynomial.legendre.leggauss(12)
    azimuth = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    polar = np.arccos(nodes)
    grid_p, grid_a = np.meshgrid(polar, azimuth, indexing="ij")
    w = np.repeat(weights[:, None], azimuth.size, axis=1) * (2 * np.pi / azimuth.size)
    terms = [(d, m) for d in range(2, 5) for m in range(-d, d + 1)]
    values = np.stack([real_sph_harm(d, m, grid_p, grid_a).ravel() for d, m in terms])
    gram = (values * w.ravel()) @ values.T
    np.testing.assert_allclose(gram, np.eye(len(terms)), atol=1e-10)


@pytest.mark.parametrize("sigma2", [0.31, 0.1], ids=["sigma2=0.31", "sigma2=0.1"])
def test_log_radius_variance_and_mean_radius_match_theory(sigma2: float) -> None:
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((64, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    samples = np.concatenate(
        [
            evaluate_log_radius(sample_log_radius_coefficients(rng, lmax=4, sigma2=sigma2), directions)
            for _ in range(600)
        ]
    )
    beta2 = math.log1p(sigma2)
    assert samples.var() == pytest.approx(beta2, rel=0.1)
    # r = alpha exp(s - beta^2 / 2) has mean alpha and relative variance sigma^2
    radius = np.exp(samples - beta2 / 2)
    assert radius.mean() == pytest.approx(1.0, abs=0.03)
    assert radius.var() == pytest.approx(sigma2, rel=0.15)


def _irregularity(opacity: np.ndarray) -> float:
    """Isoperimetric ratio perimeter^2 / (4 pi area) of the thresholded lesion (1 for a disc)."""
    region = opacity > 0.1 * opacity.max()
    return float(measure.perimeter(region) ** 2 / (4 * math.pi * region.sum()))


def test_spiculated_margin_is_more_irregular_than_circumscribed() -> None:
    def mean_ratio(kind: str) -> float:
        return float(
            np.mean(
                [
                    _irregularity(
                        LESIONS.get(kind)
                        .render(np.random.default_rng(s), spacing_mm=0.1, size_mm=8.0)
                        .opacity
                    )
                    for s in range(6)
                ]
            )
        )

    spiculated, circumscribed = mean_ratio("mass"), mean_ratio("circumscribed-mass")
    assert circumscribed < 2.0
    assert spiculated > 2.0 * circumscribed


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
def test_render_is_deterministic_and_seed_dependent(kind: str) -> None:
    model = LESIONS.get(kind)
    a = model.render(np.random.default_rng(3), spacing_mm=0.25)
    b = model.render(np.random.default_rng(3), spacing_mm=0.25)
    c = model.render(np.random.default_rng(4), spacing_mm=0.25)
    assert a.params == b.params
    for name in ("opacity", "displacement"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or np.array_equal(x, y)
    assert a.params != c.params


@pytest.mark.parametrize(
    ("kind", "size_mm"),
    [("circumscribed-mass", 6.0), ("calcification", 6.0), ("distortion", 10.0)],
    ids=["circumscribed-mass", "calcification", "distortion"],
)
def test_halving_the_spacing_doubles_the_pixel_extent(kind: str, size_mm: float) -> None:
    coarse = LESIONS.get(kind).render(np.random.default_rng(5), spacing_mm=0.2, size_mm=size_mm)
    fine = LESIONS.get(kind).render(np.random.default_rng(5), spacing_mm=0.1, size_mm=size_mm)
    ratio = fine.support_radius_px() / coarse.support_radius_px()
    assert ratio == pytest.approx(2.0, rel=0.12)


def test_mass_radius_in_mm_is_respected() -> None:
    # mean over seeds of the equivalent radius of the projected body tracks alpha = size_mm / 2
    radii = []
    for seed in range(8):
        patch = LESIONS.get("circumscribed-mass").render(
            np.random.default_rng(seed), spacing_mm=0.1, size_mm=10.0
        )
        assert patch.opacity is not None
        area_mm2 = (patch.opacity > 0).sum() * 0.01
        radii.append(math.sqrt(area_mm2 / math.pi))
    assert float(np.mean(radii)) == pytest.approx(5.0, rel=0.2)


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"size_mm": -3.0}, "size_mm must be > 0"),
        ({"size_mm": 0.0}, "size_mm must be > 0"),
        ({"contrast": 1.5}, r"contrast must be in \["),
        ({"sizemm": 4.0}, "Did you mean 'size_mm'"),
    ],
    ids=["negative-size", "zero-size", "contrast-too-high", "misspelt-parameter"],
)
def test_bad_parameters_raise(kind: str, params: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LESIONS.get(kind).render(np.random.default_rng(0), spacing_mm=0.2, **params)


@pytest.mark.parametrize(
    ("spacing", "match"),
    [
        (None, "spacing is missing"),
        (0.0, "positive"),
        (-0.1, "positive"),
        (float("nan"), "positive"),
        ("0.2", "number"),
    ],
    ids=["missing", "zero", "negative", "nan", "string"],
)
def test_bad_spacing_raises(spacing: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LESIONS.get("mass").render(np.random.default_rng(0), spacing_mm=spacing)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("calcification", {"n_specks": 0}, "n_specks must be an integer"),
        ("calcification", {"min_diameter_mm": 2.0, "max_diameter_mm": 1.0}, "exceeds max_diameter_mm"),
        ("mass", {"n_spicules": -1}, "n_spicules must be an integer"),
        ("mass", {"lmax": 7}, "lmax must be an integer"),
        ("distortion", {"n_spokes": 2.5}, "n_spokes must be an integer"),
    ],
    ids=["zero-specks", "min-above-max", "negative-spicules", "lmax-too-high", "fractional-spokes"],
)
def test_bad_counts_raise(kind: str, params: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LESIONS.get(kind).render(np.random.default_rng(0), spacing_mm=0.2, **params)
