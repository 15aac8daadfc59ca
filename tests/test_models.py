"""Model factory, parameter split, pretrained-by-name refusal offline, local weights loading."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from medbalance.cli import main
from medbalance.errors import CheckpointError, ConfigError
from medbalance.training import create_model, list_models, load_weights, split_parameters
from medbalance.training._resnet22 import SeparableConv2d

TIMM_TINY = "test_resnet"  # ~0.37M params, built in milliseconds


class Payload:
    """A custom class: a pickle holding it must be refused."""

    def __init__(self) -> None:
        self.value = 1


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "size", "in_chans"),
    [
        ("small-cnn", 32, 1),
        ("small-cnn", 64, 3),
        ("small-cnn", 512, 1),
        ("resnet22", 64, 1),
        ("resnet22", 96, 3),
        (TIMM_TINY, 32, 1),
    ],
    ids=["small-32-grey", "small-64-rgb", "small-512", "resnet22-64", "resnet22-96-rgb", "timm-32-grey"],
)
def test_forward_shapes_and_classifier_api(name: str, size: int, in_chans: int) -> None:
    model = create_model(name, num_classes=3, in_chans=in_chans).eval()
    x = torch.rand(2, in_chans, size, size)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        pooled = model.forward_head(features, pre_logits=True)
    assert logits.shape == (2, 3)
    assert features.shape[:2] == (2, model.num_features)
    assert pooled.shape == (2, model.num_features)
    assert model.get_classifier().out_features == 3
    model.reset_classifier(5)
    with torch.no_grad():
        assert model(x).shape == (2, 5)


def test_small_cnn_parameter_budget() -> None:
    n = _n_params(create_model("small-cnn", num_classes=2))
    assert 50_000 <= n <= 200_000


def test_resnet22_has_22_weight_layers_and_walsh_tardy_widths() -> None:
    model = create_model("resnet22", num_classes=2)
    separable = [m for m in model.modules() if isinstance(m, SeparableConv2d)]
    inside = {id(c) for m in separable for c in m.modules()}
    plain_3x3 = [
        m
        for m in model.modules()
        if isinstance(m, nn.Conv2d) and id(m) not in inside and m.kernel_size != (1, 1)
    ]
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(plain_3x3) + len(separable) + len(linear) == 22
    assert [info["num_chs"] for info in model.feature_info] == [16, 32, 64, 128, 256]
    assert any(isinstance(m, nn.InstanceNorm2d) for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_resnet22_refuses_too_small_images() -> None:
    model = create_model("resnet22", num_classes=2)
    with pytest.raises(ValueError, match="H and W >= 64"):
        model(torch.rand(1, 1, 32, 32))


@pytest.mark.parametrize("name", ["small-cnn", "resnet22", TIMM_TINY, "test_efficientnet"])
def test_split_parameters_partitions_the_model(name: str) -> None:
    model = create_model(name, num_classes=2)
    backbone, head, last = split_parameters(model)
    ids = lambda params: {id(p) for p in params}  # noqa: E731
    assert ids(head) == ids(model.get_classifier().parameters())
    assert not ids(backbone) & ids(head)
    assert ids(backbone) | ids(head) == ids(model.parameters())
    assert ids(last) < ids(backbone) and last
    stage = dict(model.named_modules())[model.feature_info[-1]["module"]]
    assert ids(stage.parameters()) <= ids(last)
    first = dict(model.named_modules())[model.feature_info[0]["module"]]
    assert not ids(first.parameters()) & ids(last)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "resnt18"}, ConfigError, "Did you mean 'resnet18'"),
        ({"name": "small_cnn"}, ConfigError, "Did you mean 'small-cnn'"),
        ({"name": "small-cnn", "num_classes": 0}, ConfigError, "num_classes must be a positive"),
        ({"name": "small-cnn", "in_chans": 4}, ConfigError, "in_chans must be 1"),
        ({"name": "small-cnn", "drop_rate": 1.5}, ConfigError, "drop_rate"),
        ({"name": "resnet22", "pretrained": True}, CheckpointError, "--weights PATH"),
    ],
    ids=["typo-timm", "typo-own", "zero-classes", "four-channels", "drop-rate", "own-pretrained"],
)
def test_create_model_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    kwargs = {"num_classes": 2, **kwargs}
    with pytest.raises(error, match=match):
        create_model(kwargs.pop("name"), **kwargs)


def test_pretrained_by_name_offline_fails_fast_naming_local_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"--weights PATH.*never falls back to random weights"):
        create_model(TIMM_TINY, num_classes=2, pretrained=True)
    assert time.perf_counter() - start < 10.0


@pytest.fixture(scope="module")
def rgb_source() -> nn.Module:
    """A 3-channel, 10-class timm model whose weights the tests save and reload."""
    torch.manual_seed(0)
    return create_model(TIMM_TINY, num_classes=10, in_chans=3)


def _save(model: nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"], ids=["safetensors", "pt"])
def test_local_weights_load_backbone_and_reset_head(
    rgb_source: nn.Module, tmp_path: Path, suffix: str
) -> None:
    path = _save(rgb_source, tmp_path / f"w{suffix}")
    model = create_model(TIMM_TINY, num_classes=2, in_chans=3, weights_path=path)
    source = rgb_source.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith("fc."):
            assert value.shape[0] == 2  # the 10-class head was dropped, the new one is fresh
        else:
            torch.testing.assert_close(value, source[key], rtol=0, atol=0)
    report = load_weights(create_model(TIMM_TINY, num_classes=2, in_chans=3), path)
    assert report.reset_head == ("fc.weight", "fc.bias") and report.adapted_input == ()


def test_local_weights_same_head_loads_classifier_too(rgb_source: nn.Module, tmp_path: Path) -> None:
    path = _save(rgb_source, tmp_path / "w.safetensors")
    model = create_model(TIMM_TINY, num_classes=10, in_chans=3, weights_path=path)
    torch.testing.assert_close(model.fc.weight, rgb_source.fc.weight)


def test_local_weights_rgb_to_grey_sums_first_conv(rgb_source: nn.Module, tmp_path: Path) -> None:
    path = _save(rgb_source, tmp_path / "w.safetensors")
    model = create_model(TIMM_TINY, num_classes=2, in_chans=1, weights_path=path)
    first = model.pretrained_cfg["first_conv"] + ".weight"
    expected = rgb_source.state_dict()[first].sum(dim=1, keepdim=True)
    torch.testing.assert_close(model.state_dict()[first], expected)


@pytest.mark.parametrize("source_chans,target_chans", [(3, 1), (1, 3)], ids=["rgb-to-grey", "grey-to-rgb"])
def test_local_weights_adapt_the_first_conv_with_timm_before_base_chans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_chans: int, target_chans: int
) -> None:
    """timm 1.0.29 (found on a GPU machine) has adapt_input_conv(in_chans, weight) only: same weights result."""
    import timm.models

    source = create_model(TIMM_TINY, num_classes=2, in_chans=source_chans)
    path = _save(source, tmp_path / "w.safetensors")
    current = create_model(TIMM_TINY, num_classes=2, in_chans=target_chans, weights_path=path)
    real = timm.models.adapt_input_conv

    def before_base_chans(in_chans: int, conv_weight: torch.Tensor) -> torch.Tensor:
        if conv_weight.shape[1] != 3:
            raise NotImplementedError("Weight format not supported by conversion.")  # as timm 1.0.29
        return real(in_chans, conv_weight)

    monkeypatch.setattr(timm.models, "adapt_input_conv", before_base_chans)
    older = create_model(TIMM_TINY, num_classes=2, in_chans=target_chans, weights_path=path)
    first = current.pretrained_cfg["first_conv"] + ".weight"
    torch.testing.assert_close(older.state_dict()[first], current.state_dict()[first])
    assert older.state_dict()[first].shape[1] == target_chans


def test_local_weights_nested_and_prefixed_state_dict(tmp_path: Path) -> None:
    source = create_model("small-cnn", num_classes=2)
    path = tmp_path / "lightning.ckpt"
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}}, path)
    model = create_model("small-cnn", num_classes=2, weights_path=path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, source.state_dict()[key])


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy-pickle"])
def test_pickle_with_custom_class_is_refused(tmp_path: Path, zipfile: bool) -> None:
    path = tmp_path / "legacy.pth"
    payload = {"conv.weight": torch.zeros(1), "extra": Payload()}
    torch.save(payload, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(CheckpointError, match=r"refused to load.*Payload.*weights_only=True"):
        create_model("small-cnn", num_classes=2, weights_path=path)


def test_other_architecture_is_refused_naming_missing_keys(tmp_path: Path) -> None:
    path = _save(create_model("small-cnn", num_classes=2), tmp_path / "small.safetensors")
    with pytest.raises(CheckpointError, match=r"backbone tensors missing.*stages\.0\.0\.conv1\.0\.weight"):
        create_model("resnet22", num_classes=2, weights_path=path)


def test_wrong_backbone_shape_is_refused(tmp_path: Path) -> None:
    state = create_model("small-cnn", num_classes=2).state_dict()
    state["stages.1.0.weight"] = torch.zeros(32, 8, 3, 3)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match=r"another shape: stages\.1\.0\.weight"):
        create_model("small-cnn", num_classes=2, weights_path=path)


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("w.npz", b"\x00", CheckpointError, "unknown weights format"),
        ("w.safetensors", b"not a safetensors file", CheckpointError, "not a readable .safetensors"),
        ("w.pt", b"garbage bytes", CheckpointError, "not a readable PyTorch state dict"),
    ],
    ids=["extension", "bad-safetensors", "bad-pickle"],
)
def test_unreadable_weight_files(tmp_path: Path, name: str, content: bytes, error: type, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=match):
        create_model("small-cnn", num_classes=2, weights_path=path)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--weights path"):
        create_model("small-cnn", num_classes=2, weights_path=tmp_path / "none.safetensors")


def test_list_models_own_and_timm() -> None:
    own = list_models()
    assert {e.name for e in own} == {"small-cnn", "resnet22"} and all(e.source == "medbalance" for e in own)
    found = {e.name: e for e in list_models("test_res*")}
    assert found[TIMM_TINY].source == "timm" and found[TIMM_TINY].pretrained
    assert [e.name for e in list_models("small*")] == ["small-cnn"]


def test_models_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "small-cnn" in out and "resnet22" in out and TIMM_TINY not in out
    assert main(["models", "--filter", "test_res*"]) == 0
    assert TIMM_TINY in capsys.readouterr().out


def test_small_cnn_avgmax_pool_is_the_mean_of_average_and_maximum() -> None:
    model = create_model("small-cnn", num_classes=2)
    features = torch.randn(3, 128, 4, 4)
    expected = 0.5 * (features.mean(dim=(2, 3)) + features.amax(dim=(2, 3)))
    assert torch.allclose(model.forward_head(features, pre_logits=True), expected)
    model.reset_classifier(2, global_pool="avg")
    assert torch.allclose(model.forward_head(features, pre_logits=True), features.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="global_pool must be one of avg, avgmax"):
        model.reset_classifier(2, global_pool="max")
    with pytest.raises(ValueError, match="num_classes must be >= 0"):
        model.reset_classifier(-1, global_pool="avgmax")  # refused before anything changes
    assert torch.allclose(model.forward_head(features, pre_logits=True), features.mean(dim=(2, 3)))
