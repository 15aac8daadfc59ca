"""timm's names: hf-hub: and local-dir: accepted; pretrained normalisation from the weights' pretrained_cfg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medbalance.errors import CheckpointError, ConfigError
from medbalance.training.models import create_model, pretrained_normalization

MEAN, STD = [0.31, 0.32, 0.33], [0.21, 0.22, 0.23]


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A folder as timm's save_for_hf writes it (config.json + model.safetensors), in a path with dots."""
    import timm
    from timm.models._hub import save_for_hf

    folder = tmp_path_factory.mktemp("weights") / "tiny.v1.0"
    source = timm.create_model("test_efficientnet", num_classes=5, pretrained=False)
    save_for_hf(source, str(folder), safe_serialization=True)
    config = json.loads((folder / "config.json").read_text())
    config["pretrained_cfg"].update(mean=MEAN, std=STD)
    (folder / "config.json").write_text(json.dumps(config))
    return folder, source


def test_local_dir_loads_the_folder_weights(local_dir: tuple[Path, torch.nn.Module]) -> None:
    folder, source = local_dir
    model = create_model(f"local-dir:{folder}", num_classes=2, in_chans=1, pretrained=True)
    # grey input: timm sums the RGB filters of the first convolution
    assert torch.allclose(model.conv_stem.weight, source.conv_stem.weight.sum(1, keepdim=True))
    mine, theirs = model.state_dict(), source.state_dict()
    body = [k for k in theirs if not k.startswith(("conv_stem.", "classifier."))]
    assert body and all(torch.equal(mine[k], theirs[k]) for k in body)
    assert model.get_classifier().out_features == 2
    (grey_mean,), (grey_std,) = pretrained_normalization(model, 1)  # type: ignore[misc]
    assert (grey_mean, grey_std) == pytest.approx((sum(MEAN) / 3, sum(STD) / 3))
    assert pretrained_normalization(model, 3) == (tuple(MEAN), tuple(STD))


def test_hub_names_offline_name_the_local_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match=r"offline.*--weights PATH.*local-dir:/path/to/folder"):
        create_model("hf-hub:timm/resnet18.a1_in1k", num_classes=2, pretrained=True)


def test_a_missing_local_dir_says_what_the_folder_needs(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json and model\.safetensors"):
        create_model(f"local-dir:{tmp_path / 'absent'}", num_classes=2, pretrained=True)


def test_registered_names_are_still_checked() -> None:
    with pytest.raises(ConfigError, match="resnet18"):
        create_model("resnet81", num_classes=2)
    assert create_model("timm:test_resnet", num_classes=2).get_classifier().out_features == 2


def test_a_pretrained_run_normalises_with_the_weights_statistics(
    local_dir: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train

    folder, _ = local_dir
    common = {
        "data": "phantoms", "phantoms": {"n_patients": 12, "prevalence": 0.25, "size": 64}, "image_size": 32,
        "epochs": 1, "fractions": [0.6, 0.2, 0.2], "progress": False, "cache_dir": tmp_path / "cache",
        "model": f"local-dir:{folder}",
    }  # fmt: skip
    run = train(load_train_config(None, {**common, "out": tmp_path / "pre", "pretrained": True}))
    norm = run.summary["normalization"]
    assert norm["source"] == "pretrained_cfg"
    assert norm["mean"] == pytest.approx([sum(MEAN) / 3]) and norm["std"] == pytest.approx([sum(STD) / 3])
    sidecar = json.loads((run.out / run.summary["best_checkpoint"]).with_suffix(".json").read_text())
    assert sidecar["preprocessing"]["mean"] == pytest.approx([sum(MEAN) / 3])  # what predict will use

    scratch = train(load_train_config(None, {**common, "out": tmp_path / "scratch"}))
    assert scratch.summary["normalization"]["source"] == "training split"
    assert scratch.summary["normalization"]["mean"] != pytest.approx([sum(MEAN) / 3])
