"""Small DICOM files for tests, built with pydicom: one builder instead of one per test file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    DigitalMammographyXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

MAMMOGRAPHY = DigitalMammographyXRayImageStorageForPresentation


def mammo_dataset(*, sop_class: str = MAMMOGRAPHY, modality: str = "MG", uid: str | None = None) -> Dataset:
    """A header-only dataset: file meta (explicit VR little endian), SOP class and instance, modality."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid or generate_uid()
    ds.Modality = modality
    return ds


def dicom_file(
    path: Path | None,
    pixels: np.ndarray | None = None,
    photometric: str = "MONOCHROME2",
    bits: int | None = None,
    *,
    sop_class: str = MAMMOGRAPHY,
    modality: str = "MG",
    uid: str | None = None,
    **attributes: Any,
) -> Any:
    """Write a DICOM with ``pixels`` (stored with ``bits`` bits, default the dtype's) and header ``attributes``.

    Returns the path, or the file's bytes when ``path`` is None.
    """
    ds = mammo_dataset(sop_class=sop_class, modality=modality, uid=uid)
    if pixels is not None:
        ds.set_pixel_data(pixels, photometric, bits or pixels.dtype.itemsize * 8)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    if path is None:
        buffer = DicomBytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
        return buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    dcmwrite(path, ds, enforce_file_format=True)
    return path
