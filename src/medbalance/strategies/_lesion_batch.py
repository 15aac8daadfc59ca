"""Insert synthetic malignant lesions into one training image tensor (synthetic-lesions)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from medbalance.errors import DataError

__all__ = ["InsertionOutcome", "add_lesions"]

log = logging.getLogger(__name__)

_VISIBLE = 1.0 / 255.0  # a "lesion" that changes no pixel by one 8-bit grey level is not a lesion


@dataclass(frozen=True)
class InsertionOutcome:
    """The image with lesions (None when no lesion fitted) and what happened."""

    image: Tensor | None
    blank: bool
    lesions: int


def add_lesions(
    image: Tensor,
    *,
    kinds: tuple[str, ...],
    n: tuple[int, int],
    spacing_mm: float,
    generator: np.random.Generator,
) -> InsertionOutcome:
    """Insert ``n`` lesions into ``image`` (C, H, W) in [0, 1], inside its breast mask.

    The lesions are drawn on the grey image (mean over channels) and the change
    is added to every channel. The breast mask is the non-zero pixels; a blank
    image uses the whole frame. When the lesions do not fit (a tiny mask at a
    fine pixel spacing) or change no pixel by 1/255 (specks far below the pixel
    size), one lesion is tried; if that fails too, the image is returned as
    None so that the caller keeps it benign rather than labelling an unchanged
    image malignant.
    """
    from medbalance.synth.insertion import insert_lesions  # lazy: the synthesis stack is heavy

    grey = image.float().mean(dim=0).clamp(0.0, 1.0).cpu().numpy().astype(np.float32)
    mask = grey > 0
    blank = not mask.any()
    if blank:
        mask[:] = True
    for count in (n, (1, 1)):
        try:
            with_lesions, records = insert_lesions(
                grey, mask, kinds=kinds, n=count, spacing_mm=spacing_mm, rng=generator
            )
        except DataError as exc:
            log.debug("synthetic lesion insertion failed with n=%s: %s", count, exc)
            continue
        change = np.asarray(with_lesions, dtype=np.float32) - grey
        if np.abs(change).max() < _VISIBLE:
            log.debug(
                "synthetic lesions with n=%s changed no pixel visibly (too small at this spacing)", count
            )
            continue
        delta = torch.from_numpy(change).to(image)
        return InsertionOutcome((image + delta).clamp(0.0, 1.0), blank, len(records))
    return InsertionOutcome(None, blank, 0)
