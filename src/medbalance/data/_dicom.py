"""Read DICOM with pydicom (``force=False``) into display-ready, dense-is-bright pixels.

Order of operations, done once and here only (see docs/readers.md):

1. refuse files without pixel data (SR, presentation states), over the pixel
   limit (from Rows x Columns), with a truncated PixelData, or compressed with
   a transfer syntax no installed plugin decodes (the error names the package);
2. decode, applying ``frame_policy`` to multi-frame files;
3. colour (RGB, YBR_* converted to RGB by pydicom, PALETTE COLOR through its
   LUT) is returned as (H, W, 3) with no VOI;
4. grey: modality LUT (rescale slope/intercept or LUT) -> VOI LUT table applied,
   or the first window kept in ``ImageData.window`` for ``to_float`` ->
   MONOCHROME1 inverted (window mirrored with it), reported as MONOCHROME2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import UID, AllTransferSyntaxes

from medbalance.data._dicom_grey import finish_grey
from medbalance.data._image import ImageData
from medbalance.errors import ImageReadError

__all__ = ["list_dicom_decoders", "read_with_pydicom"]

_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
_GREY = ("MONOCHROME1", "MONOCHROME2")
_CODECS_HINT = "pip install 'medbalance[dicom-codecs]' (pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg)"


def read_with_pydicom(path: Path, *, max_pixels: int | None, frame_policy: str) -> ImageData:
    """Decode one DICOM file; see the module docstring for the policies.

    Raises:
        ImageReadError: with the reason and the fix.
    """
    try:
        return _read(path, max_pixels=max_pixels, frame_policy=frame_policy)
    except (ImageReadError, MemoryError):
        raise
    except Exception as exc:
        # pydicom parses header values lazily: a damaged value fails where it is first used (found by fuzzing)
        raise ImageReadError(
            path, f"a DICOM header value cannot be used ({type(exc).__name__}: {exc}); re-export the file"
        ) from exc


def _read(path: Path, *, max_pixels: int | None, frame_policy: str) -> ImageData:
    ds = _read_dataset(path)
    _require_pixel_data(ds, path)
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if max_pixels is not None and rows * columns > max_pixels:
        raise ImageReadError(
            path,
            f"header declares {columns}x{rows} = {rows * columns} pixels per frame, above the pixel limit of "
            f"{max_pixels} pixels; raise max_pixels (--max-pixels on the CLI) if the image is genuine",
        )
    transfer_syntax = UID(ds.file_meta.get("TransferSyntaxUID", "") if hasattr(ds, "file_meta") else "")
    if transfer_syntax and not transfer_syntax.is_transfer_syntax:  # found by fuzzing: ValueError later
        raise ImageReadError(
            path,
            f"TransferSyntaxUID {str(transfer_syntax)!r} in the file meta is not a transfer syntax; re-export the file",
        )
    _require_decoder(transfer_syntax, path)
    _require_complete_native_data(ds, transfer_syntax, path)
    notes: list[str] = []
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    arr = _decode(ds, path, transfer_syntax, frames, frame_policy, notes)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    mean_frames = frames > 1 and frame_policy == "mean"
    if photometric in _COLOUR or photometric == "PALETTE COLOR":
        pixels = _colour(ds, arr, photometric, path, notes)
        if mean_frames:
            pixels = pixels.mean(axis=0, dtype=np.float64).astype(np.float32)
            notes.append(f"mean of {frames} frames (float32)")
        lut_bits = int(ds.RedPaletteColorLookupTableDescriptor[2]) if photometric == "PALETTE COLOR" else bits
        return ImageData(
            pixels=pixels,
            bits=lut_bits,
            photometric="RGB",
            source_format="dicom",
            notes=tuple(notes),
            value_range=(0.0, float(2**lut_bits - 1)),
        )
    if photometric not in _GREY:
        raise ImageReadError(
            path,
            f"PhotometricInterpretation {photometric or '(missing)'!r} is not supported; expected one of "
            f"{', '.join(_GREY + _COLOUR)} or PALETTE COLOR",
        )
    if "PixelData" not in ds:  # Float / Double Float Pixel Data: already real-valued, no LUTs
        pixels = _mean_if(arr, mean_frames, frames, notes).astype(np.float32)
        if not np.all(np.isfinite(pixels)):
            raise ImageReadError(path, "float pixel data holds NaN or inf; re-export with finite values")
        if photometric == "MONOCHROME1":
            pixels = pixels.max() + pixels.min() - pixels
            notes.append("MONOCHROME1 inverted once so dense tissue is bright (reported as MONOCHROME2)")
        return ImageData(
            pixels=pixels, bits=32, photometric="MONOCHROME2", source_format="dicom", notes=tuple(notes)
        )
    values = apply_modality_lut(arr, ds)
    values = _mean_if(values, mean_frames, frames, notes)
    return finish_grey(ds, values, photometric, notes, stored=arr.dtype)


def list_dicom_decoders() -> dict[str, list[str]]:
    """Compressed transfer syntax name -> installed decoder plugins (empty: none)."""
    found: dict[str, list[str]] = {}
    for uid in AllTransferSyntaxes:
        if not uid.is_compressed:
            continue
        try:
            decoder = get_decoder(uid)
        except NotImplementedError:
            continue
        found[uid.name] = sorted(decoder.available_plugins)
    return found


def _read_dataset(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path, force=False)
    except InvalidDicomError as exc:
        raise ImageReadError(
            path, f"not a valid DICOM file ({exc}); medbalance reads DICOM with force=False"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a corrupt header is a per-file problem, never a crash
        raise ImageReadError(path, f"DICOM header cannot be parsed ({type(exc).__name__}: {exc})") from exc


def _require_pixel_data(ds: Dataset, path: Path) -> None:
    if any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return
    sop = ds.get("SOPClassUID", None)
    sop_name = UID(str(sop)).name if sop else "unknown SOP class"
    raise ImageReadError(
        path,
        f"DICOM object holds no pixel data (SOP class {sop_name!r}, modality {ds.get('Modality', '?')!r}); "
        "it is not an image (e.g. a structured report or presentation state): remove it from the manifest",
    )


def _require_decoder(transfer_syntax: UID, path: Path) -> None:
    if not transfer_syntax or not transfer_syntax.is_compressed:
        return
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError as exc:
        raise ImageReadError(
            path, f"pydicom has no decoder for transfer syntax {transfer_syntax.name}"
        ) from exc
    if not decoder.is_available:
        raise ImageReadError(
            path,
            f"pixel data is compressed as {transfer_syntax.name} ({transfer_syntax}) and no installed plugin decodes "
            f"it; install one of: {'; '.join(decoder.missing_dependencies)}. For JPEG/JPEG 2000: {_CODECS_HINT}",
        )


def _require_complete_native_data(ds: Dataset, transfer_syntax: UID, path: Path) -> None:
    """Compare PixelData's length with what Rows x Columns x ... declare (uncompressed only)."""
    if "PixelData" not in ds or (transfer_syntax and transfer_syntax.is_compressed):
        return
    shape_tags = ("Rows", "Columns", "BitsAllocated")
    if any(ds.get(tag) is None for tag in shape_tags):
        raise ImageReadError(
            path, "DICOM header lacks Rows, Columns or BitsAllocated; cannot locate the pixels"
        )
    n_values = (
        int(ds.Rows)
        * int(ds.Columns)
        * int(ds.get("NumberOfFrames", 1) or 1)
        * int(ds.get("SamplesPerPixel", 1))
    )
    expected = (n_values * int(ds.BitsAllocated) + 7) // 8
    actual = len(ds.PixelData)
    if actual < expected:
        raise ImageReadError(
            path,
            f"PixelData is truncated: {actual} bytes, but the header declares {expected} "
            f"({ds.Columns}x{ds.Rows}, {ds.get('NumberOfFrames', 1)} frame(s), {ds.BitsAllocated} bits); re-export the file",
        )


def _decode(
    ds: Dataset, path: Path, transfer_syntax: UID, frames: int, frame_policy: str, notes: list[str]
) -> np.ndarray:
    if frames > 1 and frame_policy == "reject":
        raise ImageReadError(
            path, f"multi-frame DICOM with {frames} frames; pass frame_policy='first' or 'mean' to read it"
        )
    index = 0 if frames > 1 and frame_policy == "first" else None
    if index == 0:
        notes.append(f"first of {frames} frames")
    try:
        return np.asarray(pixel_array(ds, index=index, as_rgb=True))
    except MemoryError:
        raise
    except Exception as exc:  # decoder failures differ per plugin; all are per-file problems
        compressed = (
            bool(transfer_syntax) and transfer_syntax.is_compressed
        )  # '' has no is_compressed (fuzzing)
        hint = f"; a different decoder may help: {_CODECS_HINT}" if compressed else ""
        raise ImageReadError(
            path, f"pixel data cannot be decoded ({type(exc).__name__}: {exc}){hint}"
        ) from exc


def _colour(ds: Dataset, arr: np.ndarray, photometric: str, path: Path, notes: list[str]) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        notes.append("PALETTE COLOR mapped through its colour LUT to RGB")
        return np.asarray(apply_color_lut(arr, ds))
    if arr.shape[-1] != 3:
        raise ImageReadError(
            path, f"{photometric} DICOM decoded to shape {arr.shape}, expected 3 samples per pixel"
        )
    if photometric != "RGB":
        notes.append(f"{photometric} converted to RGB")
    return arr


def _mean_if(values: np.ndarray, mean_frames: bool, frames: int, notes: list[str]) -> Any:
    if not mean_frames:
        return values
    notes.append(f"mean of {frames} frames (float32)")
    return values.mean(axis=0, dtype=np.float64).astype(np.float32)
