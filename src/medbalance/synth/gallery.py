"""A contact sheet of phantoms and of lesions inserted into real films, to judge them by eye."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from medbalance.report.contact_sheet import make_contact_sheet
from medbalance.synth.phantoms import PhantomConfig, generate_phantoms

__all__ = ["find_mini_mias", "write_gallery"]

_LESION_KINDS = ("mass", "circumscribed-mass", "calcification", "coarse-calcification", "distortion")


def find_mini_mias(start: Path | None = None) -> Path | None:
    """``shared/data/mini-mias`` beside or above ``start`` (the working folder), if present."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "shared" / "data" / "mini-mias"
        if (candidate / "Info.txt").is_file():
            return candidate
    return None


def _phantom_tiles(seed: int, size: int) -> tuple[list[np.ndarray], list[str]]:
    config = PhantomConfig(
        n_patients=24,
        prevalence=0.25,
        size=size,
        domains=("vendor-a", "vendor-b", "vendor-c", "vendor-d"),
        density_mix=(0.25, 0.25, 0.25, 0.25),
        seed=seed,
    )
    phantoms = generate_phantoms(config)
    table = phantoms.manifest.table.set_index("image_id")
    chosen: list[str] = []
    # One of each: both views and sides, each density, each vendor, each finding.
    for column, values in (
        ("density", ("A", "B", "C", "D")),
        ("domain", config.domains),
        ("finding", ("mass", "calcification", "distortion", "circumscribed-mass", "coarse-calcification")),
    ):
        for value in values:
            hits = [i for i in table.index[table[column] == value] if i not in chosen]
            if hits:
                chosen.append(hits[0])
    titles = [
        f"{i} {table.loc[i, 'label']}\n{table.loc[i, 'finding']}, density {table.loc[i, 'density']}, "
        f"{table.loc[i, 'domain']}"
        for i in chosen
    ]
    return [phantoms.images[i] for i in chosen], titles


def _mias_tiles(mini_mias: Path, seed: int) -> tuple[list[np.ndarray], list[str]]:
    from medbalance.data.orientation import breast_mask
    from medbalance.data.readers import read_image
    from medbalance.synth.files import pectoral_exclusion
    from medbalance.synth.insertion import insert_lesion

    info = (mini_mias / "Info.txt").read_text(encoding="utf-8", errors="replace")
    normals = re.findall(r"^(mdb\d{3})\s+[FGD]\s+NORM", info, flags=re.MULTILINE)
    images: list[np.ndarray] = []
    titles: list[str] = []
    for index, kind in enumerate(_LESION_KINDS):
        ref = normals[(7 * index + seed) % len(normals)]
        path = next(p for p in (mini_mias / "images" / f"{ref}.png", mini_mias / f"{ref}.pgm") if p.is_file())
        pixels = read_image(path).to_float()
        mask = breast_mask(pixels)
        out, record = insert_lesion(
            pixels, mask, kind=kind, spacing_mm=0.2, rng=seed + index, exclude_mask=pectoral_exclusion(mask)
        )
        row, col = record.center
        half = 96
        r0, c0 = max(0, row - half), max(0, col - half)
        images += [
            pixels[::4, ::4],
            pixels[r0 : r0 + 2 * half, c0 : c0 + 2 * half],
            out[r0 : r0 + 2 * half, c0 : c0 + 2 * half],
        ]
        titles += [f"{ref} normal film", f"{ref} before (38 mm crop)", f"{kind} ({record.size_mm:.1f} mm)"]
    return images, titles


def write_gallery(out: Path, *, mini_mias: Path | None = None, seed: int = 0, size: int = 256) -> Path:
    """Write a contact sheet PNG: phantoms, and each lesion kind in a real mini-MIAS normal film.

    Args:
        out: the PNG to write.
        mini_mias: the mini-MIAS folder; when None, phantoms only.
        seed: picks the phantoms, films and lesions.
        size: phantom image size in pixels.
    """
    images, titles = _phantom_tiles(seed, size)
    if mini_mias is not None:
        more, more_titles = _mias_tiles(Path(mini_mias), seed)
        images += more
        titles += more_titles
    return make_contact_sheet(
        images,
        titles,
        out,
        columns=6,
        tile_inches=2.6,
        suptitle="medbalance phantoms (top) and synthetic lesions in real mini-MIAS normal films",
    )
