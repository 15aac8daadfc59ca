"""Read one medical or natural image into an :class:`ImageData`, by content.

The format is detected from the bytes, not the extension: a file with the
``DICM`` marker at byte 128 is DICOM (read with pydicom, ``force=False``);
anything else goes to Pillow (PNG, JPEG, TIFF, PGM/PPM, ...). Every failure is
an :class:`~medbalance.errors.ImageReadError` naming the file and the fix.
The policies (bit depth, window, MONOCHROME1, frames, colour, alpha, EXIF,
pixel limit) are described in ``docs/readers.md``.

Example:
    >>> image = read_image("mdb001.png")  # doctest: +SKIP
    >>> image.pixels.shape, image.to_float().max()  # doctest: +SKIP
    ((1024, 1024), 1.0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from medbalance.data._image import ImageCheck, ImageData
from medbalance.errors import ImageReadError
from medbalance.registry import look_up_option

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DICOM_SUFFIXES",
    "FramePolicy",
    "ImageCheck",
    "ImageData",
    "available_dicom_decoders",
    "detect_format",
    "inspect_image",
    "read_image",
    "read_pixel_spacing_mm",
]

FramePolicy = Literal["reject", "first", "mean"]

#: Largest image (width x height, per frame) read without an explicit larger limit.
#: 100 MP fits every mammogram format in use (scanned DDSM films are under 50 MP)
#: while a crafted header declaring 20000 x 10000 pixels is refused before decoding.
DEFAULT_MAX_PIXELS = 100_000_000

#: Extensions that announce DICOM; only used to word the error for a non-DICOM file.
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")

_FRAME_POLICIES = ("reject", "first", "mean")


def detect_format(path: str | os.PathLike[str]) -> Literal["dicom", "empty", "other"]:
    """Tell DICOM from everything else by the file's first 132 bytes.

    Raises:
        ImageReadError: the path does not exist, is a folder, or cannot be read.
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            head = handle.read(132)
    except FileNotFoundError as exc:
        raise ImageReadError(
            file, "file not found; check the path (relative paths are resolved by the caller)"
        ) from exc
    except IsADirectoryError as exc:
        raise ImageReadError(file, "is a folder, not an image file") from exc
    except OSError as exc:
        raise ImageReadError(file, f"cannot read the file: {exc}") from exc
    if not head:
        return "empty"
    return "dicom" if head[128:132] == b"DICM" else "other"


def read_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    frame_policy: FramePolicy = "reject",
) -> ImageData:
    """Decode one image file fully, keeping its stored dtype and bit depth.

    Args:
        path: the image file (PNG, JPEG, TIFF, PGM/PPM, DICOM, ...).
        max_pixels: refuse images with more pixels per frame than this, checked
            from the header before decoding; None disables the check.
        frame_policy: what to do with multi-frame files: "reject" them, keep the
            "first" frame, or average all frames ("mean", float32).

    Returns:
        The decoded image; ``to_float()`` scales it to [0, 1].

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated, too
            large, or needs a decoder that is not installed.
        ValueError: ``frame_policy`` or ``max_pixels`` is invalid.
    """
    policy = look_up_option(frame_policy, _FRAME_POLICIES, what="frame_policy")
    if max_pixels is not None and (isinstance(max_pixels, bool) or int(max_pixels) < 1):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    file = Path(path)
    kind = detect_format(file)
    if kind == "empty":
        raise ImageReadError(file, "file is empty (0 bytes); re-export or remove it")
    if kind == "dicom":
        from medbalance.data._dicom import read_with_pydicom

        return read_with_pydicom(file, max_pixels=max_pixels, frame_policy=policy)
    from medbalance.data._pillow import read_with_pillow

    try:
        return read_with_pillow(file, max_pixels=max_pixels, frame_policy=policy)
    except ImageReadError as exc:
        if file.suffix.lower() in DICOM_SUFFIXES and "Pillow recognises" in exc.reason:
            raise ImageReadError(
                file,
                "not a DICOM file: no 'DICM' marker at byte 128 (medbalance reads DICOM with force=False; "
                "a file without the standard preamble is refused) and not another image format either",
            ) from exc
        raise


def inspect_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    frame_policy: FramePolicy = "reject",
) -> ImageCheck:
    """Decode one file fully and report whether it is usable, without raising.

    Args:
        path: the image file.
        max_pixels: as in :func:`read_image`.
        frame_policy: as in :func:`read_image`.

    Returns:
        ``ok`` with shape, dtype and ``constant`` (max == min), or ``ok=False``
        with the reason.
    """
    try:
        image = read_image(path, max_pixels=max_pixels, frame_policy=frame_policy)
    except ImageReadError as exc:
        return ImageCheck(ok=False, reason=exc.reason)
    pixels = image.pixels
    constant = bool(pixels.size == 0 or np.min(pixels) == np.max(pixels))
    return ImageCheck(
        ok=True,
        shape=tuple(pixels.shape),
        dtype=pixels.dtype.name,
        constant=constant,
        source_format=image.source_format,
        notes=tuple(image.notes),
    )


def available_dicom_decoders() -> dict[str, list[str]]:
    """Compressed DICOM transfer syntaxes and the decoder plugins installed for each.

    Cheap (no decoding): use it at start-up to warn that, e.g., JPEG-LS files
    will need ``pip install 'medbalance[dicom-codecs]'``.

    Returns:
        Transfer-syntax name -> names of available plugins (empty list: none).
    """
    from medbalance.data._dicom import list_dicom_decoders

    return list_dicom_decoders()


def read_pixel_spacing_mm(path: str | os.PathLike[str]) -> float | None:
    """Pixel spacing in mm from a DICOM header: PixelSpacing, else ImagerPixelSpacing.

    Only the header is read (no pixel data). Non-DICOM files carry no trusted
    spacing and give ``None``, as does a DICOM without either attribute or with a
    value that is not a pair of positive numbers. Rows and columns with different
    spacing give their mean (lesion sizes are isotropic).

    Raises:
        ImageReadError: the file cannot be read, or its DICOM header cannot be parsed.
    """
    file = Path(path)
    if detect_format(file) != "dicom":
        return None
    import pydicom

    try:
        ds = pydicom.dcmread(file, force=False, stop_before_pixels=True,
                             specific_tags=["PixelSpacing", "ImagerPixelSpacing"])  # fmt: skip
    except MemoryError:
        raise
    except Exception as exc:  # a corrupt header is a per-file problem, never a crash
        raise ImageReadError(file, f"DICOM header cannot be parsed ({type(exc).__name__}: {exc})") from exc
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            values = [float(v) for v in (ds.get(keyword) or [])]
        except (TypeError, ValueError):
            continue
        except MemoryError:
            raise
        except Exception as exc:  # pydicom parses lazily: a damaged element fails here (found by fuzzing)
            raise ImageReadError(
                file, f"DICOM {keyword} cannot be parsed ({type(exc).__name__}: {exc})"
            ) from exc
        if len(values) == 2 and all(np.isfinite(v) and v > 0 for v in values):
            return float(np.mean(values))
    return None
