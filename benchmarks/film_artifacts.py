"""How many mini-MIAS films keep a film label or scanner band in the model's input.

For each of the 322 films: preprocess with ``PreprocessConfig(size=256)`` (``--size``), run
:func:`medbalance.data.film_leftovers.find_film_leftovers` on the result, and
record the breast mask area at full size (1024 px; the mask the pipeline uses
at that output size) and ``breast_fraction``.
The "before" figures come from the same script run against the previous
pipeline (PREPROCESS_VERSION 1: the sources of commit ff13faa, with this
branch's ``film_leftovers.py`` copied in, as the only ``medbalance`` on the
path) under ``--name film_artifacts_before``; ``--compare`` then puts each film's
mask area beside the earlier run's. ``--sheets DIR`` writes contact sheets of
every flagged film and of all clean ones, for checking by eye.

    git archive ff13faa src | tar -x -C /tmp/v1 && cp src/medbalance/data/film_leftovers.py /tmp/v1/src/medbalance/data/
    PYTHONPATH=/tmp/v1/src python benchmarks/film_artifacts.py --name film_artifacts_before
    PYTHONPATH=src python benchmarks/film_artifacts.py --compare benchmarks/results/film_artifacts_before.json [--sheets /tmp/sheets]

At 128 px (PREPROCESS_VERSION 3 finds the mask on a 256-px copy there), against
version 2's sources (commit c71d3d0) at the same size:

    git archive c71d3d0 src | tar -x -C /tmp/v2
    PYTHONPATH=/tmp/v2/src python benchmarks/film_artifacts.py --size 128 --name film_artifacts_128_v2
    PYTHONPATH=src python benchmarks/film_artifacts.py --size 128 --name film_artifacts_128 \
        --compare benchmarks/results/film_artifacts_128_v2.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import write_result

from medbalance.data.cache import PREPROCESS_VERSION
from medbalance.data.film_leftovers import find_film_leftovers
from medbalance.data.orientation import breast_mask
from medbalance.data.preprocess import PreprocessConfig, preprocess_with_info
from medbalance.data.readers import read_image

try:
    from medbalance.data.orientation import work_side_for
except ImportError:  # sources before PREPROCESS_VERSION 3 (the "before" runs): always 512 px
    work_side_for = None

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mini-mias"


def _mask(grey: np.ndarray, size: int) -> np.ndarray:
    if work_side_for is None:
        return breast_mask(grey)
    return breast_mask(grey, work_side=work_side_for(size))


def audit(data: Path, limit: int | None = None, size: int = 256) -> list[dict]:
    config = PreprocessConfig(size=size)
    rows = []
    for path in sorted((data / "images").glob("mdb*.png"))[:limit]:
        image = read_image(path)
        array, info = preprocess_with_info(image, config)
        grey = np.asarray(image.pixels)
        leftovers = find_film_leftovers(array)
        rows.append(
            {
                "film": path.stem,
                "leftovers": [[item.kind, list(item.box), item.area] for item in leftovers],
                "breast_fraction": round(float(info.breast_fraction), 4),
                # the mask the pipeline uses at this output size (work_side_for: 512 px from 256 up)
                "mask_area_1024": int(_mask(grey, size).sum()),
                "_array": array,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sheets", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--name", default="film_artifacts")
    parser.add_argument("--size", type=int, default=256, help="output size (the detector is tuned for 256)")
    parser.add_argument(
        "--compare", type=Path, default=None, help="an earlier run's JSON: mask area kept per film"
    )
    args = parser.parse_args(argv)
    rows = audit(args.data, args.limit, args.size)
    flagged = [row for row in rows if row["leftovers"]]
    kinds = {
        kind: sum(any(item[0] == kind for item in row["leftovers"]) for row in rows)
        for kind in ("label", "band", "strip", "band_edge", "sliver", "edge_gap")
    }
    if args.sheets is not None:
        from medbalance.report.contact_sheet import make_contact_sheet

        def sheet(chosen: list[dict], name: str) -> None:
            for start in range(0, len(chosen), 24):
                part = chosen[start : start + 24]
                titles = [
                    f"{row['film']} {','.join(item[0] for item in row['leftovers']) or 'clean'}"
                    for row in part
                ]
                make_contact_sheet(
                    [row["_array"] for row in part],
                    titles,
                    args.sheets / f"{name}_{start // 24:02d}.png",
                    columns=6,
                    tile_inches=2.2,
                )

        sheet(flagged, "flagged")
        clean = [row for row in rows if not row["leftovers"]]
        sheet(clean, "clean")
    for row in rows:
        del row["_array"]
    payload = {
        "preprocess_version": PREPROCESS_VERSION,
        "config": {"size": args.size},
        "films": len(rows),
        "films_with_leftovers": len(flagged),
        "films_with": kinds,
        "flagged": [row["film"] for row in flagged],
        "per_film": rows,
    }
    if args.compare is not None:
        earlier = json.loads(args.compare.read_text())
        areas = {row["film"]: row["mask_area_1024"] for row in earlier["per_film"]}
        kept = {
            row["film"]: row["mask_area_1024"] / areas[row["film"]] for row in rows if areas.get(row["film"])
        }
        ratios = np.array(list(kept.values()))
        payload["before"] = {
            "preprocess_version": earlier["preprocess_version"],
            "films_with_leftovers": earlier["films_with_leftovers"],
            "films_with": earlier["films_with"],
            "flagged": earlier["flagged"],
        }
        payload["mask_area_vs_before"] = {
            "min": round(float(ratios.min()), 4),
            "median": round(float(np.median(ratios)), 4),
            "max": round(float(ratios.max()), 4),
            "films_below_0.99": sorted(
                (film, round(value, 4)) for film, value in kept.items() if value < 0.99
            ),
        }
    path = write_result(args.name, payload)
    print(f"{len(flagged)} of {len(rows)} films keep a leftover ({kinds}); {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
