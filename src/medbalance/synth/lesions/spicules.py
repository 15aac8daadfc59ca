"""Spicules: branching strands grown from a mass surface, and their projected thickness.

Growth follows the iterative branching model of de Sisternes et al. (Med Phys 2015),
in the projection plane: every generation each tip either continues (probability
``p_continue``, about 0.72), tapering slightly and turning by a small random angle,
or bifurcates, symmetrically (two children of radius ``r 2^(-1/3)``) or
asymmetrically (radii with ``r1^3 + r2^3 = r^3``, Murray's law), the children
leaving at about ``branch_angle`` (6.5 degrees) each side, the thinner child
turning more. A child's length scales with its radius. A tip stops once its
radius falls under half a pixel, and a whole tree stops at ``max_segments``
segments, which bounds the cost at fine pixel spacings.

Rendering samples points every half pixel along every segment and deposits each
point's volume ``pi r^2 ds`` into the pixel grid, blurred by a Gaussian of width
``0.63 r`` (the Gaussian with the cylinder's peak chord ``2 r`` and the same
integral): the result is the strand's projected thickness in millimetres.
Everything is vectorised over tips (growth) and points (rendering).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["SpiculeTree", "grow_spicules", "render_spicules"]

_SIGMA_LEVELS_PX = np.array([0.7, 1.4, 2.8, 5.6, 11.2])


@dataclass(frozen=True, eq=False)
class SpiculeTree:
    """Segments of all spicules of one lesion, in pixels relative to the lesion centre.

    Attributes:
        start: (n, 2) segment starts (row, col).
        end: (n, 2) segment ends (row, col).
        radius_start: (n,) strand radius at the start, mm.
        radius_end: (n,) strand radius at the end, mm.
    """

    start: np.ndarray
    end: np.ndarray
    radius_start: np.ndarray
    radius_end: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def extent_px(self) -> float:
        """Largest distance of a segment end from the centre, pixels."""
        return float(np.linalg.norm(self.end, axis=1).max()) if len(self) else 0.0


def grow_spicules(
    rng: np.random.Generator,
    *,
    roots: np.ndarray,
    angles: np.ndarray,
    radius_mm: float | np.ndarray,
    length_mm: float | np.ndarray,
    spacing_mm: float,
    p_continue: float = 0.72,
    branch_angle_deg: float = 6.5,
    taper: float = 0.9,
    jitter_deg: float = 8.0,
    max_segments: int = 1200,
) -> SpiculeTree:
    """Grow one branching strand from each root.

    Args:
        rng: random generator.
        roots: (k, 2) start points (row, col) in pixels relative to the centre.
        angles: (k,) initial directions in radians (0 = +col, pi/2 = -row).
        radius_mm: initial strand radius, one for all or one per root.
        length_mm: initial segment length, one for all or one per root.
        spacing_mm: pixel spacing; growth stops when the radius < spacing / 2.
        p_continue: probability a tip continues rather than bifurcates.
        branch_angle_deg: angle of each child from the parent direction (symmetric split).
        taper: radius and length factor per continued generation.
        jitter_deg: standard deviation of the turn of a continued tip.
        max_segments: cap on the total number of segments.
    """
    pos = np.asarray(roots, dtype=np.float64).reshape(-1, 2)
    ang = np.asarray(angles, dtype=np.float64).reshape(-1)
    rad = np.broadcast_to(np.asarray(radius_mm, dtype=np.float64), ang.shape).copy()
    length = np.broadcast_to(np.asarray(length_mm, dtype=np.float64), ang.shape).copy()
    starts, ends, r0s, r1s = [], [], [], []
    total = 0
    stop_radius = 0.5 * spacing_mm
    branch = math.radians(branch_angle_deg)
    while pos.shape[0] and total < max_segments:
        if total + pos.shape[0] > max_segments:
            keep = np.sort(rng.permutation(pos.shape[0])[: max_segments - total])
            pos, ang, rad, length = pos[keep], ang[keep], rad[keep], length[keep]
        step = length / spacing_mm
        end = pos + np.stack([-np.sin(ang) * step, np.cos(ang) * step], axis=1)
        starts.append(pos)
        ends.append(end)
        r0s.append(rad)
        r1s.append(rad * taper)
        total += pos.shape[0]

        n = pos.shape[0]
        draw = rng.random(n)
        split_ratio = rng.uniform(0.4, 1.0, n)
        symmetric = rng.random(n) < 0.5
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        turn = rng.normal(0.0, math.radians(jitter_deg), n)
        cont = draw < p_continue
        ratio = np.where(symmetric, 1.0, split_ratio)
        r_big = rad * (1 + ratio**3) ** (-1.0 / 3.0)
        r_small = ratio * r_big
        # the thinner child turns more; both angles sum to twice the symmetric angle
        share = r_small**2 / (r_big**2 + r_small**2)
        new_pos = np.concatenate([end[cont], end[~cont], end[~cont]])
        new_ang = np.concatenate(
            [
                ang[cont] + turn[cont],
                ang[~cont] + side[~cont] * 2 * branch * share[~cont],
                ang[~cont] - side[~cont] * 2 * branch * (1 - share[~cont]),
            ]
        )
        new_rad = np.concatenate([rad[cont] * taper, r_big[~cont], r_small[~cont]])
        parent_len = np.concatenate([length[cont], length[~cont], length[~cont]])
        parent_rad = np.concatenate([rad[cont], rad[~cont], rad[~cont]])
        new_len = parent_len * new_rad / parent_rad
        alive = new_rad >= stop_radius
        pos, ang, rad, length = new_pos[alive], new_ang[alive], new_rad[alive], new_len[alive]

    if not starts:
        empty = np.zeros((0, 2))
        return SpiculeTree(empty, empty, np.zeros(0), np.zeros(0))
    return SpiculeTree(
        start=np.concatenate(starts),
        end=np.concatenate(ends),
        radius_start=np.concatenate(r0s),
        radius_end=np.concatenate(r1s),
    )


def render_spicules(tree: SpiculeTree, *, half: int, spacing_mm: float) -> np.ndarray:
    """Projected strand thickness (mm) on a (2 half + 1)^2 grid centred on the lesion."""
    side = 2 * half + 1
    out = np.zeros((side, side), dtype=np.float64)
    if not len(tree):
        return out.astype(np.float32)
    seg_len = np.linalg.norm(tree.end - tree.start, axis=1)
    counts = np.maximum(1, np.ceil(seg_len / 0.5).astype(int))
    seg = np.repeat(np.arange(len(tree)), counts)
    first = np.cumsum(counts) - counts
    frac = (np.arange(seg.size) - first[seg] + 0.5) / counts[seg]
    points = tree.start[seg] + (tree.end[seg] - tree.start[seg]) * frac[:, None] + half
    radius = tree.radius_start[seg] + (tree.radius_end[seg] - tree.radius_start[seg]) * frac
    ds_mm = seg_len[seg] / counts[seg] * spacing_mm
    volume = math.pi * radius**2 * ds_mm / spacing_mm**2  # mm of thickness over one pixel

    row0 = np.floor(points[:, 0]).astype(int)
    col0 = np.floor(points[:, 1]).astype(int)
    fr = points[:, 0] - row0
    fc = points[:, 1] - col0
    sigma_px = np.maximum(0.63 * radius / spacing_mm, _SIGMA_LEVELS_PX[0])
    level = np.abs(np.log(sigma_px[:, None]) - np.log(_SIGMA_LEVELS_PX[None, :])).argmin(axis=1)
    for index, sigma in enumerate(_SIGMA_LEVELS_PX):
        chosen = level == index
        if not chosen.any():
            continue
        layer = np.zeros(side * side, dtype=np.float64)
        for dr, dc, weight in (
            (0, 0, (1 - fr) * (1 - fc)),
            (0, 1, (1 - fr) * fc),
            (1, 0, fr * (1 - fc)),
            (1, 1, fr * fc),
        ):
            rr, cc = row0[chosen] + dr, col0[chosen] + dc
            inside = (rr >= 0) & (rr < side) & (cc >= 0) & (cc < side)
            flat = rr[inside] * side + cc[inside]
            layer += np.bincount(flat, weights=(volume * weight)[chosen][inside], minlength=side * side)
        out += ndimage.gaussian_filter(layer.reshape(side, side), sigma, mode="constant", truncate=3.0)
    return out.astype(np.float32)
