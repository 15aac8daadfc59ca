"""Augmentation presets: determinism, shape/dtype/range, laterality, lesion shape, worker seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as F
from skimage.measure import label, regionprops
from torch.utils.data import DataLoader, Dataset

from medbalance.errors import ConfigError
from medbalance.training import AUGMENTATIONS, create_augmentation, create_generator, seed_worker

PRESETS = ["none", "mammography", "dermoscopy"]
RANDOM_PRESETS = ["mammography", "dermoscopy"]


def _image(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _half_disk(size: int = 64, radius: int = 20) -> torch.Tensor:
    """A bright breast-like half disk touching the left edge (chest wall left)."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((rows - size / 2) ** 2 + cols**2) < radius**2).float().mul(0.8).unsqueeze(0)


def _ellipse_rgb(size: int = 96) -> torch.Tensor:
    """A dark brown elliptical lesion on light skin; the 0.5-threshold of channel 0 is the lesion."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = ((rows - size / 2) / (size * 0.22)) ** 2 + ((cols - size * 0.47) / (size * 0.125)) ** 2 < 1
    skin = torch.tensor([0.85, 0.7, 0.6]).view(3, 1, 1)
    lesion = torch.tensor([0.3, 0.2, 0.15]).view(3, 1, 1)
    return torch.where(inside, lesion, skin)


def _lesion_props(image: torch.Tensor):
    mask = (image[0] < 0.5).numpy()
    regions = regionprops(label(mask))
    return max(regions, key=lambda r: r.area)


def test_registry_lists_the_presets() -> None:
    assert AUGMENTATIONS.names() == sorted(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((1, 48, 48), torch.float32), ((4, 1, 32, 48), torch.float32), ((2, 3, 40, 40), torch.float64)],
    ids=["chw-grey", "batch-grey-nonsquare", "batch-rgb-float64"],
)
def test_shape_dtype_and_range_are_kept(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    images = _image(shape, dtype=dtype)
    out = create_augmentation(name)(images, create_generator(1))
    assert out.shape == images.shape and out.dtype == dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", RANDOM_PRESETS)
def test_same_seed_same_output_other_seed_other_output(name: str) -> None:
    augment = create_augmentation(name)
    images = _image((4, 3, 32, 32))
    first = augment(images, create_generator(7))
    assert torch.equal(first, augment(images, create_generator(7)))
    assert not torch.equal(first, augment(images, create_generator(8)))


@pytest.mark.parametrize("name", RANDOM_PRESETS)
def test_each_image_of_a_batch_gets_its_own_draws(name: str) -> None:
    batch = _image((1, 3, 32, 32)).repeat(4, 1, 1, 1)
    out = create_augmentation(name)(batch, create_generator(3))
    assert len({out[i].numpy().tobytes() for i in range(4)}) > 1


def test_none_is_identity() -> None:
    images = _image((2, 1, 32, 32))
    assert torch.equal(create_augmentation("none")(images, create_generator(0)), images)


@pytest.mark.parametrize(
    ("params", "left"), [({}, True), ({"horizontal_flip": 1.0}, False)], ids=["default", "hflip-forced"]
)
def test_mammography_keeps_the_chest_wall_left(params: dict, left: bool) -> None:
    augment = create_augmentation("mammography", **params)
    image = _half_disk()
    generator = create_generator(0)
    columns = torch.arange(64, dtype=torch.float32)
    for _ in range(100):
        out = augment(image, generator)[0]
        centroid = float((out.sum(0) * columns).sum() / out.sum())
        assert (centroid < 32) == left
        if left:
            assert float(out[:, :8].sum()) > 0  # the breast still touches the left side


def test_mammography_inpaints_one_patch_with_the_local_mean() -> None:
    augment = create_augmentation(
        "mammography", vertical_flip=0.0, rotation_deg=0.0, translate=0.0, zoom=(1.0, 1.0), inpaint_p=1.0
    )
    image = _image((1, 64, 64))
    out = augment(image, create_generator(5))
    changed = (out != image)[0]
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert rows.numel() > 0
    box = out[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert changed.sum() == box.numel()  # exactly one rectangle changed
    assert torch.allclose(box, box.flatten()[0].expand_as(box))  # filled with one value
    assert abs(float(box[0, 0]) - 0.5) < 0.1  # the mean of uniform noise around it


def test_mammography_noise_inpainting_is_not_flat() -> None:
    augment = create_augmentation(
        "mammography", rotation_deg=0.0, translate=0.0, zoom=(1.0, 1.0), inpaint_p=1.0, inpaint_fill="noise"
    )
    image = _image((1, 64, 64))
    out = augment(image, create_generator(5))
    assert float(out[out != image].std()) > 0.05


def test_dermoscopy_keeps_lesion_area_without_scaling() -> None:
    augment = create_augmentation("dermoscopy", scale=(1.0, 1.0))
    image = _ellipse_rgb()
    reference = _lesion_props(image)
    generator = create_generator(0)
    for _ in range(50):
        props = _lesion_props(augment(image, generator))
        assert abs(props.area / reference.area - 1) < 0.03
        assert abs(props.eccentricity - reference.eccentricity) < 0.02


def test_dermoscopy_default_changes_size_only_within_scale_and_keeps_shape() -> None:
    augment = create_augmentation("dermoscopy")
    image = _ellipse_rgb()
    reference = _lesion_props(image)
    generator = create_generator(1)
    for _ in range(50):
        props = _lesion_props(augment(image, generator))
        assert 0.9**2 * 0.95 < props.area / reference.area < 1.1**2 * 1.05
        assert abs(props.eccentricity - reference.eccentricity) < 0.03


def test_dermoscopy_zoom_out_fills_with_skin_without_a_seam() -> None:
    augment = create_augmentation(
        "dermoscopy", scale=(0.9, 0.9), brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0
    )
    skin = torch.tensor([0.85, 0.7, 0.6]).view(3, 1, 1).expand(3, 40, 40).contiguous()
    torch.testing.assert_close(augment(skin, create_generator(0)), skin, rtol=0, atol=1e-5)


def test_lesion_shape_measure_detects_a_shear() -> None:
    """The shape check above would catch a border-destroying transform."""
    image = _ellipse_rgb()
    sheared = F.affine(
        image, angle=0.0, translate=[0, 0], scale=1.0, shear=[25.0, 0.0], fill=[0.85, 0.7, 0.6]
    )
    assert abs(_lesion_props(sheared).eccentricity - _lesion_props(image).eccentricity) > 0.03


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("mamography", {}, "Did you mean 'mammography'"),
        ("mammography", {"rotaton_deg": 5}, "Did you mean 'rotation_deg'"),
        ("mammography", {"vertical_flip": 1.5}, "probability"),
        ("mammography", {"zoom": [1.2, 0.8]}, "zoom must be"),
        ("mammography", {"inpaint_fill": "blur"}, "Did you mean|Expected one of"),
        ("dermoscopy", {"hue": 0.2}, "realistic dermoscopy colour"),
        ("dermoscopy", {"brightness": 0.5}, "realistic dermoscopy colour"),
        ("dermoscopy", {"scale": [0.5, 1.5]}, "scale must be"),
    ],
    ids=["preset-typo", "param-typo", "probability", "zoom-order", "fill", "hue", "brightness", "scale"],
)
def test_bad_parameters_are_refused(name: str, params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_augmentation(name, **params)


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(32, 32), r"\(C,H,W\) or \(B,C,H,W\)"),
        (torch.zeros(1, 32, 32, dtype=torch.uint8), "float images"),
        (torch.full((1, 32, 32), 255.0), "values in \\[0, 1\\]"),
    ],
    ids=["2d", "uint8", "0-255"],
)
def test_bad_images_are_refused(images: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create_augmentation("mammography")(images, create_generator(0))


class _Draws(Dataset):
    """Each item is one draw from the worker's own augmentation generator."""

    def __init__(self) -> None:
        self.generator: torch.Generator | None = None

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.generator is None:
            self.generator = create_generator(seed=11)
        return torch.rand((), generator=self.generator)


def _loader_draws(loader_seed: int) -> list[float]:
    loader = DataLoader(
        _Draws(),
        batch_size=1,
        num_workers=2,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(loader_seed),
    )
    return [float(x) for x in loader]


def test_worker_generators_are_distinct_and_reproducible() -> None:
    draws = _loader_draws(0)
    assert draws == _loader_draws(0)
    assert draws[0] != draws[1]  # items 0 and 1 come from workers 0 and 1
    assert draws != _loader_draws(1)


def test_seed_worker_seeds_numpy_from_torch() -> None:
    torch.manual_seed(123)
    seed_worker(0)
    expected = np.random.RandomState(torch.initial_seed() % 2**32).rand()
    assert np.random.rand() == expected
