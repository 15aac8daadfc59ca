"""Read PNG, JPEG, TIFF, PGM/PPM (anything Pillow opens) without losing bit depth.

Policies (see docs/readers.md):

* 16-bit grey (modes ``I;16*``) is read through numpy as uint16; Pillow's
  8-bit ``convert`` is never used on it. Mode ``I`` (int32) becomes uint16
  when its values fit, else stays int32.
* Alpha (RGBA, LA, PA, palette with transparency) is composited onto black:
  transparent pixels become background.
* Palette images become RGB, or L when every palette entry is grey.
* EXIF orientation is applied (``ImageOps.exif_transpose``): the array is the
  image as a viewer shows it.
* ``load()`` is always called, so a truncated file fails here, not mid-epoch.
* The pixel limit is checked from the header before any pixel is decoded.
"""

from __future__ import annotations

import re
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps

from medbalance.data._image import ImageData, integer_range
from medbalance.errors import ImageReadError

__all__ = ["read_with_pillow"]

_FORMAT_NAMES = {"JPEG": "jpeg", "PNG": "png", "TIFF": "tiff", "MPO": "jpeg"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_LIMIT_LOCK = threading.Lock()


def read_with_pillow(path: Path, *, max_pixels: int | None, frame_policy: str) -> ImageData:
    """Decode one image file with Pillow; see the module docstring for policies.

    Raises:
        ImageReadError: the file is not an image, is truncated, exceeds
            ``max_pixels`` or uses a mode medbalance cannot keep faithfully.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise ImageReadError(
            path,
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by some other code), which makes Pillow "
            "fill truncated images with grey; set it back to False before reading",
        )
    with _open(path, max_pixels) as image:
        source_format = _format_name(image, path)
        notes: list[str] = _png_depth_notes(path) if source_format == "png" else []
        frames = _select_frames(image, path, frame_policy, notes)
        arrays = [_decode_frame(image, index, path, notes) for index in frames]
    if len(arrays) == 1:
        pixels, bits, photometric = arrays[0]
        value_range = None
    else:
        if len({a[0].shape for a in arrays}) != 1:
            raise ImageReadError(
                path, "frames differ in size or colour; frame_policy='mean' needs equal frames"
            )
        bits, photometric = arrays[0][1], arrays[0][2]
        value_range = integer_range(bits, signed=False) if arrays[0][0].dtype.kind == "u" else None
        pixels = np.mean([a[0] for a in arrays], axis=0).astype(np.float32)
        notes.append(f"mean of {len(arrays)} frames (float32)")
    if pixels.dtype.kind == "f" and not np.all(np.isfinite(pixels)):
        raise ImageReadError(path, "float pixels contain NaN or inf; re-export the image with finite values")
    return ImageData(
        pixels=pixels,
        bits=bits,
        photometric=photometric,
        source_format=source_format,
        notes=tuple(dict.fromkeys(notes)),
        value_range=value_range,
    )


def _open(path: Path, max_pixels: int | None) -> Image.Image:
    """Open (header only) and enforce ``max_pixels`` before decoding."""
    with warnings.catch_warnings():
        # medbalance's own limit (checked just below) replaces Pillow's warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image: Image.Image
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:
            pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
            if max_pixels is not None and max_pixels <= pillow_limit:
                found = re.search(r"\((\d+) pixels\)", str(exc))
                size = f"{found.group(1)} pixels" if found else "more pixels than Pillow's own limit"
                raise ImageReadError(path, _too_large(f"header declares {size}", max_pixels)) from exc
            image = _open_above_pillow_limit(path)
        except Image.UnidentifiedImageError as exc:
            raise ImageReadError(
                path, "not an image format Pillow recognises (corrupt, or not an image)"
            ) from exc
        except OSError as exc:
            raise ImageReadError(path, f"cannot open: {exc}") from exc
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise ImageReadError(
            path, _too_large(f"header declares {width}x{height} = {width * height} pixels", max_pixels)
        )
    return image


def _open_above_pillow_limit(path: Path) -> Image.Image:
    """Open a file larger than Pillow's bomb limit because the caller allowed it."""
    with _LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _too_large(what: str, max_pixels: int) -> str:
    return (
        f"{what}, above the pixel limit of {max_pixels} pixels (possible decompression bomb); "
        "raise max_pixels (--max-pixels on the CLI) if the image is genuine"
    )


def _png_depth_notes(path: Path) -> list[str]:
    """Pillow reduces 16-bit colour PNGs to 8 bits per channel; say so."""
    with path.open("rb") as handle:
        header = handle.read(26)
    depth, colour_type = (header[24], header[25]) if len(header) == 26 else (0, 0)
    if depth == 16 and colour_type in (2, 4, 6):
        return ["16-bit colour PNG: Pillow decodes it to 8 bits per channel"]
    return []


def _format_name(image: Image.Image, path: Path) -> str:
    name = image.format or ""
    if name == "PPM":
        return "pgm" if image.mode in ("L", "1", "I", "I;16", "I;16B") else "ppm"
    return _FORMAT_NAMES.get(name, name.lower() or path.suffix.lstrip(".").lower())


def _select_frames(image: Image.Image, path: Path, frame_policy: str, notes: list[str]) -> list[int]:
    n_frames = int(getattr(image, "n_frames", 1))
    if n_frames == 1:
        return [0]
    if frame_policy == "reject":
        raise ImageReadError(
            path, f"file holds {n_frames} frames/pages; pass frame_policy='first' or 'mean' to read it"
        )
    if frame_policy == "first":
        notes.append(f"first of {n_frames} frames")
        return [0]
    return list(range(n_frames))


def _decode_frame(
    image: Image.Image, index: int, path: Path, notes: list[str]
) -> tuple[np.ndarray, int, str]:
    """Decode one frame fully and turn it into (pixels, bits, photometric)."""
    try:
        image.seek(index)
        image.load()
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        frame = ImageOps.exif_transpose(image) if orientation in range(2, 9) else image
    except MemoryError:
        raise
    except Exception as exc:  # any decoder failure is a per-file problem, never a crash
        raise ImageReadError(
            path, f"pixel data cannot be decoded ({type(exc).__name__}: {exc}); truncated?"
        ) from exc
    if frame is not image:
        notes.append(f"EXIF orientation {orientation} applied")
    return _to_array(frame, path, notes)


def _to_array(image: Image.Image, path: Path, notes: list[str]) -> tuple[np.ndarray, int, str]:
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return np.asarray(image).astype(np.uint16), 16, "I;16"
    if mode == "I":
        values = np.asarray(image)
        if values.size and values.min() >= 0 and values.max() <= 65535:
            return values.astype(np.uint16), 16, "I;16"
        return values.astype(np.int32), 32, "I"
    if mode == "F":
        return np.asarray(image, dtype=np.float32), 32, "F"
    if mode == "1":
        return np.asarray(image).astype(np.uint8), 1, "1"
    if mode == "L":
        return np.asarray(image, dtype=np.uint8), 8, "L"
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8), 8, "RGB"
    if mode in ("P", "PA"):
        return _from_palette(image, notes)
    if mode in ("LA", "La", "RGBA", "RGBa"):
        return _composite_on_black(image, notes)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} converted to RGB")
        return np.asarray(image.convert("RGB"), dtype=np.uint8), 8, "RGB"
    raise ImageReadError(path, f"Pillow mode {mode!r} is not supported; re-export as grey or RGB")


def _from_palette(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, int, str]:
    has_alpha = image.mode == "PA" or "transparency" in image.info
    rgb = image.convert("RGBA" if has_alpha else "RGB")
    if has_alpha:
        notes.append("palette converted to RGB")
        return _composite_on_black(rgb, notes)
    pixels = np.asarray(rgb, dtype=np.uint8)
    if np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2]):
        notes.append("grey palette converted to L")
        return np.ascontiguousarray(pixels[..., 0]), 8, "L"
    notes.append("palette converted to RGB")
    return pixels, 8, "RGB"


def _composite_on_black(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, int, str]:
    """Multiply colour by alpha: fully transparent pixels become black background."""
    values = np.asarray(image.convert("RGBA" if image.mode in ("RGBA", "RGBa", "P", "PA") else "LA"))
    colour, alpha = values[..., :-1].astype(np.float64), values[..., -1:].astype(np.float64) / 255.0
    composited = np.rint(colour * alpha).astype(np.uint8)
    transparent = float((alpha < 1.0).mean())
    if transparent > 0:  # validate reports it: half a breast can turn black
        notes.append(
            f"alpha not fully opaque: {transparent:.1%} of pixels partly or fully transparent, composited onto "
            "black (those parts darkened)"
        )
    else:
        notes.append("alpha channel fully opaque (dropped)")
    if composited.shape[-1] == 1:
        return composited[..., 0], 8, "L"
    return composited, 8, "RGB"
