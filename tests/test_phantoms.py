"""Phantom mammograms: labels, anatomy, laterality, domains, determinism, bad parameters."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from medbalance.cli import main
from medbalance.data.manifest import load_manifest
from medbalance.data.orientation import chest_wall_side
from medbalance.data.readers import read_image
from medbalance.errors import ConfigError
from medbalance.synth._anatomy import draw_anatomy
from medbalance.synth._domains import DOMAINS, acquire
from medbalance.synth._render import MALIGNANT_MIX, plan_breasts, render_view
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms, prevalence_from_ratio

SMALL = {"n_patients": 10, "size": 64}


@pytest.fixture(scope="module")
def phantoms():  # type: ignore[no-untyped-def]
    return generate_phantoms(PhantomConfig(n_patients=20, size=64, prevalence=0.1, seed=3))


def test_same_seed_same_pixels_other_seed_differs() -> None:
    a = generate_phantoms(PhantomConfig(**SMALL, seed=5))
    b = generate_phantoms(PhantomConfig(**SMALL, seed=5))
    c = generate_phantoms(PhantomConfig(**SMALL, seed=6))
    assert all(np.array_equal(a.images[k], b.images[k]) for k in a.images)
    assert a.manifest.table.equals(b.manifest.table)
    assert not all(np.array_equal(a.images[k], c.images[k]) for k in a.images)


@pytest.mark.parametrize(
    ("n_patients", "prevalence"), [(50, 0.05), (30, 0.2), (10, 1 / 3.2)], ids=["19:1", "4:1", "2.2:1"]
)
def test_malignant_breasts_match_the_requested_prevalence(n_patients: int, prevalence: float) -> None:
    table = generate_phantoms(
        PhantomConfig(n_patients=n_patients, size=32, prevalence=prevalence)
    ).manifest.table
    malignant_breasts = table.loc[table["label"] == "malignant", "breast_id"].nunique()
    assert malignant_breasts == round(prevalence * 2 * n_patients)
    # Both views of a breast carry its label.
    assert (table.groupby("breast_id")["label"].nunique() == 1).all()


def test_four_images_per_patient_with_mirrored_laterality(phantoms) -> None:  # type: ignore[no-untyped-def]
    table = phantoms.manifest.table
    per_patient = table.groupby("patient_id").agg(
        n=("image_id", "size"), views=("view", set), sides=("laterality", set)
    )
    assert (per_patient["n"] == 4).all()
    assert all(v == {"CC", "MLO"} for v in per_patient["views"])
    assert all(s == {"L", "R"} for s in per_patient["sides"])
    for image_id, side in zip(table["image_id"], table["laterality"], strict=True):
        expected = "left" if side == "L" else "right"
        assert chest_wall_side(phantoms.images[image_id]) == expected, image_id


def test_background_is_zero_and_breast_is_not(phantoms) -> None:  # type: ignore[no-untyped-def]
    for image in phantoms.images.values():
        assert image.dtype == np.float32 and image.min() >= 0 and image.max() <= 1
        assert (image == 0).mean() > 0.1  # background present
        assert (image > 0).mean() > 0.2  # a breast present


def test_benign_findings_exist_and_are_not_malignant(phantoms) -> None:  # type: ignore[no-untyped-def]
    table = phantoms.manifest.table
    benign = table[table["finding"].isin(["circumscribed-mass", "coarse-calcification"])]
    assert len(benign) > 0 and (benign["label"] == "non-malignant").all()
    malignant = table[table["label"] == "malignant"]
    assert malignant["finding"].isin(["mass", "calcification", "distortion"]).all()


def test_malignant_presentations_follow_the_mix() -> None:
    plan = plan_breasts(PhantomConfig(n_patients=1000, prevalence=0.5), np.random.default_rng(0))
    kinds = [b.findings[0] for b in plan if b.malignant]
    shares = {kind: kinds.count(kind) / len(kinds) for kind in MALIGNANT_MIX}
    for kind, share in MALIGNANT_MIX.items():  # 1,000 malignant breasts: 3 s.e. is under 0.05
        assert abs(shares[kind] - share) < 0.05, (kind, shares)


def test_malignant_calcification_clusters_have_15_to_30_specks_of_the_largest_sizes() -> None:
    table = generate_phantoms(PhantomConfig(n_patients=40, size=128, prevalence=0.5, seed=4)).manifest.table
    records = [r for text in table["lesions"] for r in json.loads(text) if r["kind"] == "calcification"]
    assert records
    for record in records:
        assert 15 <= record["params"]["n_specks_requested"] <= 30
        assert record["params"]["min_diameter_mm"] == 0.75


def test_lesions_lie_in_the_breast_never_on_the_pectoral_muscle() -> None:
    config = PhantomConfig(n_patients=12, size=96, prevalence=0.4, benign_finding_rate=1.0, seed=1)
    checked = 0
    for breast in plan_breasts(config, np.random.default_rng(config.seed)):
        for view in ("CC", "MLO"):
            rendered = render_view(breast, view, config)
            assert len(rendered.records) == len(breast.findings)
            for record in rendered.records:
                r, c = record.center
                assert rendered.breast[r, c], (
                    f"{breast.patient}{breast.laterality} {view}: centre off the breast"
                )
                assert not rendered.pectoral[r, c], (
                    f"{breast.patient}{breast.laterality} {view}: on the muscle"
                )
                # The whole lesion, not only its centre, changed pixels inside the breast only.
                assert (rendered.image[~rendered.breast] == 0).all()
                checked += 1
            if view == "MLO":
                assert rendered.pectoral.any() and (rendered.pectoral <= rendered.breast).all()
    assert checked >= 20


def test_recorded_lesions_match_the_manifest_and_both_views() -> None:
    table = generate_phantoms(PhantomConfig(n_patients=10, size=64, prevalence=0.3, seed=2)).manifest.table
    for breast_id, rows in table.groupby("breast_id"):
        kinds = [[lesion["kind"] for lesion in json.loads(text)] for text in rows["lesions"]]
        finding = rows["finding"].iloc[0]
        expected = [] if finding == "none" else finding.split(";")
        assert kinds == [expected, expected], breast_id  # the same finding in CC and MLO


def test_density_d_has_more_dense_tissue_than_a() -> None:
    rng = np.random.default_rng(0)
    fractions = {}
    for density in ("A", "D"):
        values = []
        for _ in range(6):
            anatomy = draw_anatomy("CC", density, 96, 1.5, rng)
            inner = anatomy.breast & ~anatomy.pectoral
            values.append(float((anatomy.glandular[inner] > 0.5).mean()))
        fractions[density] = np.mean(values)
    assert fractions["D"] > fractions["A"] + 0.4


def test_domains_differ_in_intensity_statistics() -> None:
    # The same patients (same seed, same plan) acquired by two vendors.
    stats = {}
    for domain in ("vendor-a", "vendor-d"):
        phantoms = generate_phantoms(PhantomConfig(n_patients=4, size=64, domains=(domain,), seed=2))
        pixels = [im[im > 0] for im in phantoms.images.values()]
        stats[domain] = np.mean([(p.mean(), p.std()) for p in pixels], axis=0)
    (mean_a, std_a), (mean_d, std_d) = stats["vendor-a"], stats["vendor-d"]
    assert mean_d > mean_a + 0.02  # brighter offset
    assert std_d < std_a - 0.01  # lower contrast gain


def test_domains_differ_in_noise_and_blur_on_a_flat_field() -> None:
    flat = np.full((64, 64), 0.5, dtype=np.float32)
    edge = np.where(np.arange(64) < 32, 0.3, 0.7).astype(np.float32)[None, :].repeat(64, axis=0)
    breast = np.ones((64, 64), dtype=bool)
    measured = {}
    for name in ("vendor-a", "vendor-d"):
        noise = acquire(flat, breast, DOMAINS[name], 0.1, np.random.default_rng(0)).std()
        quiet = replace(DOMAINS[name], noise=0.0, quantum=0.0)
        profile = acquire(edge, breast, quiet, 0.1, np.random.default_rng(0))[32]
        measured[name] = (
            noise,
            int(((profile > profile.min() + 0.01) & (profile < profile.max() - 0.01)).sum()),
        )
    assert measured["vendor-d"][0] > 2 * measured["vendor-a"][0]  # noisier detector
    assert measured["vendor-d"][1] > measured["vendor-a"][1]  # wider edge: more blur


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": -5}, "size must be an integer >= 32, got -5"),
        ({"prevalence": 0.0}, r"prevalence must be in \(0, 1\)"),
        ({"prevalence": 1.0}, r"prevalence must be in \(0, 1\)"),
        ({"prevalence": 1.5}, r"prevalence must be in \(0, 1\).*Fix: give the share"),
        ({"spacing_mm": 0.0}, "spacing_mm must be > 0, got 0.0"),
        ({"domains": ("vendor-z",)}, "(?i)did you mean"),
        ({"n_patients": 0}, "n_patients must be an integer >= 1"),
        ({"density_mix": (0.5, 0.5, 0.5, 0.5)}, "density_mix"),
        ({"lesion_scale": 0.0}, r"lesion_scale must be in \[0.25, 4\]"),
        ({"lesion_contrast": -1.0}, r"lesion_contrast must be in \(0, 5\]"),
    ],
    ids=[
        "negative-size",
        "prevalence-0",
        "prevalence-1",
        "prevalence-1.5",
        "spacing-0",
        "unknown-domain",
        "no-patients",
        "density-mix",
        "lesion-scale-0",
        "negative-contrast",
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PhantomConfig(**kwargs)


def test_prevalence_from_ratio() -> None:
    assert prevalence_from_ratio(19) == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="positive"):
        prevalence_from_ratio(0)


def test_written_set_is_16_bit_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "phantoms"
    written = generate_phantoms(PhantomConfig(**SMALL, seed=4), out_dir=out)
    assert written.images == {}
    manifest = load_manifest(out / "manifest.csv")
    memory = generate_phantoms(PhantomConfig(**SMALL, seed=4))
    assert list(manifest.table["label"]) == list(memory.manifest.table["label"])
    assert manifest.positive == "malignant" and manifest.task == "malignancy"
    image = read_image(manifest.paths()[0])
    assert image.pixels.dtype == np.uint16 and len(np.unique(image.pixels)) > 256
    np.testing.assert_allclose(image.to_float(), memory.images[manifest.table["image_id"][0]], atol=1 / 65535)
    with pytest.raises(Exception, match="--overwrite"):
        generate_phantoms(PhantomConfig(**SMALL), out_dir=out)


def test_cli_synth_phantoms_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "synth",
            "phantoms",
            "--out",
            str(out),
            "--n-patients",
            "6",
            "--size",
            "48",
            "--prevalence",
            "0.25",
            "--domains",
            "vendor-a,vendor-c",
        ]
    )
    assert code == 0
    manifest = load_manifest(out / "manifest.csv")
    assert len(manifest) == 24 and set(manifest.table["domain"]) == {"vendor-a", "vendor-c"}
    assert main(["validate", str(out / "manifest.csv"), "--folds", "2"]) in (0, 1)
    assert main(["synth", "phantoms", "--out", str(out), "--prevalence", "1.5"]) == 2


def test_cli_gallery_writes_png(tmp_path: Path, mini_mias_dir: Path) -> None:
    from PIL import Image

    out = tmp_path / "gallery.png"
    assert (
        main(["synth", "gallery", "--out", str(out), "--mini-mias", str(mini_mias_dir), "--size", "64"]) == 0
    )
    with Image.open(out) as image:
        assert image.size[0] > 600 and image.size[1] > 600
