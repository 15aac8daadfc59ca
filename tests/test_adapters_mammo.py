"""``vindr-mammo``, ``cmmd`` and ``cbis-ddsm`` adapters on tiny fake copies of their layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from dicom_builders import dicom_file
from medbalance.data.adapters import create_manifest
from medbalance.errors import ConfigError, DataError

MAMMOGRAPHY_STORAGE = "1.2.840.10008.5.1.4.1.1.1.2"


def _dicom(path: Path, *, patient: str = "", laterality: str = "", view: str = "", study: str = "") -> Path:
    header = {"ImageLaterality": laterality, "ViewPosition": view}
    pixels = (np.arange(64, dtype=np.uint16) * 60).reshape(8, 8)
    return dicom_file(path, pixels, "MONOCHROME2", 12, sop_class=MAMMOGRAPHY_STORAGE, PatientID=patient,
                      StudyInstanceUID=study or generate_uid(), **{k: v for k, v in header.items() if v})  # fmt: skip


def _write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- VinDr-Mammo ------------------------------------------------------------------
VINDR_HEADER = (
    "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split"
)
VINDR_ROWS = (
    "s01,x,i01,L,CC,8,8,BI-RADS 1,DENSITY C,training",
    "s01,x,i02,L,MLO,8,8,BI-RADS 1,DENSITY C,training",
    "s01,x,i03,R,CC,8,8,BI-RADS 4,DENSITY C,training",
    "s02,x,i04,R,MLO,8,8,BI-RADS 5,DENSITY A,test",
    "s02,x,i05,L,CC,8,8,BI-RADS 3,DENSITY D,test",
)


@pytest.fixture
def fake_vindr(tmp_path: Path) -> Path:
    _write(tmp_path / "breast-level_annotations.csv", VINDR_HEADER, *VINDR_ROWS)
    for row in VINDR_ROWS:
        study, _, image = row.split(",")[:3]
        _dicom(tmp_path / "images" / study / f"{image}.dicom", patient=study)
    return tmp_path


@pytest.mark.parametrize(
    ("task", "labels", "classes"),
    [
        (
            "malignancy",
            ["non-malignant"] * 2 + ["malignant"] * 2 + ["non-malignant"],
            ("non-malignant", "malignant"),
        ),
        ("density", ["C", "C", "C", "A", "D"], ("A", "B", "C", "D")),
    ],
    ids=["malignancy", "density"],
)
def test_vindr_labels(fake_vindr: Path, task: str, labels: list[str], classes: tuple[str, ...]) -> None:
    manifest = create_manifest("vindr-mammo", fake_vindr, task=task)
    assert manifest.table["label"].tolist() == labels
    assert manifest.classes == classes
    assert manifest.ordinal == (task == "density")


def test_vindr_groups_views_and_splits(fake_vindr: Path) -> None:
    manifest = create_manifest("vindr-mammo", fake_vindr)
    table = manifest.table
    assert table["patient_id"].tolist() == ["s01", "s01", "s01", "s02", "s02"]
    assert table["breast_id"].tolist() == ["s01_L", "s01_L", "s01_R", "s02_R", "s02_L"]
    assert table["view"].tolist() == ["CC", "MLO", "CC", "MLO", "CC"]
    assert table["split"].tolist() == ["train"] * 3 + ["test"] * 2
    assert table["birads"].tolist() == ["1", "1", "4", "5", "3"]
    assert all(p.is_file() for p in manifest.paths())


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda rows: [*rows, "s03,x,i06,L,CC,8,8,BI-RADS 6,DENSITY B,test"],
            r"unknown breast_birads: 'BI-RADS 6'",
        ),
        (
            lambda rows: [*rows, "s03,x,i06,L,CC,8,8,BI-RADS 2,DENSITY E,test"],
            r"unknown breast_density: 'DENSITY E'",
        ),
        (
            lambda rows: [*rows, "s03,x,i06,L,CC,8,8,BI-RADS 2,DENSITY B,test"],
            r"1 image file\(s\).*i06.dicom",
        ),
    ],
    ids=["birads-6", "density-E", "missing-dicom"],
)
def test_vindr_bad_inputs(fake_vindr: Path, edit: object, match: str) -> None:
    _write(fake_vindr / "breast-level_annotations.csv", VINDR_HEADER, *edit(list(VINDR_ROWS)))  # type: ignore[operator]
    with pytest.raises(DataError, match=match):
        create_manifest("vindr-mammo", fake_vindr)


def test_vindr_missing_column(tmp_path: Path) -> None:
    _write(tmp_path / "breast-level_annotations.csv", "study_id,image_id,laterality", "s,i,L")
    with pytest.raises(DataError, match=r"missing column\(s\) 'view_position', 'breast_birads'"):
        create_manifest("vindr-mammo", tmp_path)


# ---- CMMD -------------------------------------------------------------------------
CMMD_HEADER = "ID1,LeftRight,Age,number,abnormality,classification,subtype"


@pytest.fixture
def fake_cmmd(tmp_path: Path) -> Path:
    _write(
        tmp_path / "CMMD_clinicaldata_revision.csv",
        CMMD_HEADER,
        "D1-0001,R,44,2,calcification,Benign,",
        "D2-0002,L,61,4,mass,Malignant,Luminal A",
        "D2-0002,R,61,4,both,Benign,",
    )
    base = tmp_path / "CMMD"
    _dicom(base / "D1-0001" / "st" / "se" / "1-1.dcm", patient="D1-0001", laterality="R", view="CC")
    _dicom(base / "D1-0001" / "st" / "se" / "1-2.dcm", patient="D1-0001", view="MLO")  # no laterality tag
    for n, (side, view) in enumerate([("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")], start=1):
        _dicom(base / "D2-0002" / "st" / "se" / f"1-{n}.dcm", patient="D2-0002", laterality=side, view=view)
    return tmp_path


def test_cmmd_maps_each_dicom_to_its_breast(fake_cmmd: Path) -> None:
    manifest = create_manifest("cmmd", fake_cmmd)
    table = manifest.table.set_index("path")
    assert manifest.classes == ("non-malignant", "malignant") and manifest.positive == "malignant"
    assert len(table) == 6
    first = table.loc["CMMD/D1-0001/st/se/1-2.dcm"]
    assert (first["laterality"], first["view"], first["label"]) == ("R", "MLO", "non-malignant")
    left = table[table["breast_id"] == "D2-0002_L"]
    assert left["label"].tolist() == ["malignant", "malignant"]
    assert left["subtype"].tolist() == ["Luminal A"] * 2
    assert table[table["breast_id"] == "D2-0002_R"]["label"].tolist() == ["non-malignant"] * 2
    assert sorted(table["patient_id"].unique()) == ["D1-0001", "D2-0002"]


def test_cmmd_image_without_clinical_row_is_listed(fake_cmmd: Path) -> None:
    _dicom(fake_cmmd / "CMMD" / "D1-0001" / "st" / "se" / "1-3.dcm", patient="D1-0001", laterality="L")
    with pytest.raises(
        DataError, match=r"1 DICOM file\(s\) match no .*1-3.dcm \(patient 'D1-0001', side L\)"
    ):
        create_manifest("cmmd", fake_cmmd)


def test_cmmd_unknown_classification(fake_cmmd: Path) -> None:
    _write(fake_cmmd / "CMMD_clinicaldata_revision.csv", CMMD_HEADER, "D1-0001,R,44,2,calcification,benign,")
    with pytest.raises(
        DataError, match=r"unknown classification: 'benign' \(lines 2\).*'Benign', 'Malignant'"
    ):
        create_manifest("cmmd", fake_cmmd)


def test_cmmd_xlsx_without_openpyxl_names_the_fix(fake_cmmd: Path) -> None:
    pytest.importorskip("pandas")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        (fake_cmmd / "table.xlsx").write_bytes(b"PK")
        with pytest.raises(DataError, match="openpyxl"):
            create_manifest("cmmd", fake_cmmd, clinical="table.xlsx")
    else:
        pytest.skip("openpyxl installed")


# ---- CBIS-DDSM --------------------------------------------------------------------
MASS_HEADER = (
    "patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,"
    "mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,"
    "ROI mask file path"
)
CALC_HEADER = MASS_HEADER.replace("breast_density", "breast density").replace(
    "mass shape,mass margins", "calc type,calc distribution"
)


def _cbis_row(
    patient: str, side: str, view: str, n: int, pathology: str, prefix: str, density: str = "2"
) -> str:
    path = f"{prefix}_{patient}_{side}_{view}/1.2.3/1.2.4/000000.dcm"
    return f"{patient},{density},{side},{view},{n},x,a,b,4,{pathology},3,{path},crop.dcm,roi.dcm"


@pytest.fixture
def fake_cbis(tmp_path: Path) -> Path:
    _write(
        tmp_path / "mass_case_description_train_set.csv",
        MASS_HEADER,
        _cbis_row("P_00001", "LEFT", "CC", 1, "BENIGN", "Mass-Training"),
        _cbis_row("P_00001", "LEFT", "CC", 2, "MALIGNANT", "Mass-Training"),
        _cbis_row("P_00001", "LEFT", "MLO", 1, "BENIGN_WITHOUT_CALLBACK", "Mass-Training"),
    )
    _write(
        tmp_path / "calc_case_description_test_set.csv",
        CALC_HEADER,
        _cbis_row("P_00002", "RIGHT", "MLO", 1, "MALIGNANT", "Calc-Test", density="4"),
        _cbis_row("P_00001", "LEFT", "MLO", 1, "BENIGN", "Calc-Test"),
    )
    images = tmp_path / "CBIS-DDSM"
    # The CSV's own path for the first film; NBIA-style renamed folders for the others.
    _dicom(images / "Mass-Training_P_00001_LEFT_CC" / "1.2.3" / "1.2.4" / "000000.dcm")
    _dicom(images / "Mass-Training_P_00001_LEFT_MLO" / "07-20-2016-DDSM-1" / "1.000000-full-2" / "1-1.dcm")
    _dicom(images / "Calc-Test_P_00002_RIGHT_MLO" / "08-29-2017-DDSM-3" / "1.000000-full-4" / "1-1.dcm")
    _dicom(images / "Calc-Test_P_00001_LEFT_MLO" / "08-29-2017-DDSM-5" / "1.000000-full-6" / "1-1.dcm")
    return tmp_path


def test_cbis_film_level_labels_and_merge(fake_cbis: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest = create_manifest("cbis-ddsm", fake_cbis)
    table = manifest.table.set_index("image_id")
    assert sorted(table.index) == ["P_00001_LEFT_CC", "P_00001_LEFT_MLO", "P_00002_RIGHT_MLO"]
    assert table.loc["P_00001_LEFT_CC", "label"] == "malignant"
    assert table.loc["P_00001_LEFT_CC", "abnormality_count"] == "2"
    assert table.loc["P_00001_LEFT_MLO", "label"] == "non-malignant"
    assert table.loc["P_00001_LEFT_MLO", "abnormality_type"] == "calc;mass"
    assert table.loc["P_00001_LEFT_MLO", "split"] == "test"
    assert "both the train and test" in caplog.text
    assert table.loc["P_00002_RIGHT_MLO", "split"] == "test"
    assert table["laterality"].tolist() == ["L", "L", "R"]
    assert table["view"].tolist() == ["CC", "MLO", "MLO"]
    assert table.loc["P_00001_LEFT_CC", "breast_id"] == "P_00001_L"
    assert all(p.is_file() for p in manifest.paths())


def test_cbis_density_task_and_abnormality_filter(fake_cbis: Path) -> None:
    manifest = create_manifest("cbis-ddsm", fake_cbis, task="density", abnormality="calc")
    assert manifest.ordinal and manifest.classes == ("1", "2", "3", "4")
    assert manifest.table.set_index("image_id")["label"].to_dict() == {
        "P_00001_LEFT_MLO": "2",
        "P_00002_RIGHT_MLO": "4",
    }


@pytest.mark.parametrize(
    ("pathology", "match"),
    [
        ("MALIGN", r"unknown pathology: 'MALIGN' \(lines calc_case_description_test_set.csv:3\)"),
        ("", "unknown pathology: ''"),
    ],
    ids=["typo", "blank"],
)
def test_cbis_unknown_pathology(fake_cbis: Path, pathology: str, match: str) -> None:
    csv = fake_cbis / "calc_case_description_test_set.csv"
    _write(
        csv,
        CALC_HEADER,
        _cbis_row("P_00002", "RIGHT", "MLO", 1, "MALIGNANT", "Calc-Test"),
        _cbis_row("P_00001", "LEFT", "MLO", 1, pathology, "Calc-Test"),
    )
    with pytest.raises(DataError, match=match):
        create_manifest("cbis-ddsm", fake_cbis)


def test_cbis_missing_film_is_named(fake_cbis: Path) -> None:
    (
        fake_cbis
        / "CBIS-DDSM"
        / "Calc-Test_P_00002_RIGHT_MLO"
        / "08-29-2017-DDSM-3"
        / "1.000000-full-4"
        / "1-1.dcm"
    ).unlink()
    with pytest.raises(DataError, match=r"1 film\(s\) have no DICOM.*P_00002_RIGHT_MLO"):
        create_manifest("cbis-ddsm", fake_cbis)


def test_cbis_no_csvs_and_bad_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no CBIS-DDSM case-description CSVs"):
        create_manifest("cbis-ddsm", tmp_path)
    with pytest.raises(ConfigError, match="Did you mean 'calc'"):
        create_manifest("cbis-ddsm", tmp_path, abnormality="calcs")
