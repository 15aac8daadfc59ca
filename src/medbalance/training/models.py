"""Create classifiers by name: medbalance's own networks first, then any timm model.

Example:
    >>> import torch
    >>> model = create_model("small-cnn", num_classes=2, in_chans=1)
    >>> model(torch.zeros(1, 1, 64, 64)).shape
    torch.Size([1, 2])
    >>> backbone, head, last_block = split_parameters(model)
    >>> create_model("resnet18", num_classes=2, weights_path=Path("missing.safetensors"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: weights file missing.safetensors does not exist; check the --weights path.

Pretrained weights come from the model hub by timm name (``pretrained=True``;
``hf-hub:org/repo`` names too), from a folder timm reads (``local-dir:/path`` with
``pretrained=True``) or from a local file (``weights_path``); when the hub cannot be
reached the request fails with :class:`~medbalance.errors.CheckpointError` naming the
local options, and never falls back to random weights.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from medbalance.errors import CheckpointError, ConfigError
from medbalance.registry import Registry
from medbalance.training._heads import HEADS, Head, use_cosine_classifier
from medbalance.training._parts import split_parameter_names
from medbalance.training._resnet22 import ResNet22
from medbalance.training._smallcnn import SmallCNN
from medbalance.training._weights import WeightsReport, load_state_dict_file, load_weights

__all__ = [
    "MODELS",
    "ModelEntry",
    "WeightsReport",
    "check_model_name",
    "create_model",
    "list_models",
    "load_state_dict_file",
    "load_weights",
    "pretrained_normalization",
    "split_parameters",
]

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.add("small-cnn", SmallCNN, description="fast 4-stage CNN (~0.1M params) for CPU runs, tests and demos")
MODELS.add(
    "resnet22",
    ResNet22,
    description="Walsh & Tardy (2023) ResNet-22: 5 residual stages 16-256, separable convs, instance norm",
)

_WEIGHTS_HINT = "pass a local weights file with --weights PATH (a .safetensors file or a state dict saved with torch.save)"


@dataclass(frozen=True)
class ModelEntry:
    """One line of :func:`list_models`."""

    name: str
    source: Literal["medbalance", "timm"]
    description: str
    pretrained: bool


def list_models(pattern: str | None = None) -> list[ModelEntry]:
    """Models ``create_model`` accepts.

    Args:
        pattern: a shell-style wildcard (``"resnet*"``). Without it, only
            medbalance's own models are listed; with it, matching timm models too.
    """
    entries = [
        ModelEntry(e.name, "medbalance", e.description, False)
        for e in MODELS.entries()
        if pattern is None or fnmatch.fnmatch(e.name, pattern)
    ]
    if pattern is None:
        return entries
    import timm

    with_weights = {n.split(".")[0] for n in timm.list_models(pattern, pretrained=True)}
    entries += [ModelEntry(n, "timm", "", n in with_weights) for n in timm.list_models(pattern)]
    return entries


def _unknown_model(name: str, timm_names: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, [*MODELS.names(), *timm_names], n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(
        f"unknown model {name!r}.{hint} medbalance models: {', '.join(MODELS.names())}; or any of "
        f"{len(timm_names)} timm models (list them with `medbalance models --filter 'resnet*'`)."
    )


_SCHEMES = ("hf-hub:", "hf_hub:", "local-dir:")
"""timm names that point at a model hub repository or a local folder, not at a registered architecture."""


def _timm_failure(name: str, exc: Exception) -> CheckpointError:
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    if name.startswith("local-dir:"):
        return CheckpointError(
            f"cannot load {name!r} ({type(exc).__name__}: {detail}). A local-dir: folder must hold timm's "
            "config.json and model.safetensors (or pytorch_model.bin), as timm's save_for_hf or "
            "push_to_hf_hub write them; check the path."
        )
    return CheckpointError(
        f"cannot load {name!r} from the model hub ({type(exc).__name__}: {detail}). This machine may be "
        f"offline (HF_HUB_OFFLINE=1) or the weights are not published: {_WEIGHTS_HINT}, or point the "
        "model at a folder with timm's config.json and weights: --model local-dir:/path/to/folder "
        "--pretrained. medbalance never falls back to random weights."
    )


def check_model_name(name: str) -> str:
    """``name`` as timm takes it, checked without building anything (a second, not a model).

    medbalance's own models and ``hf-hub:``/``local-dir:`` names pass (what they point at is
    checked when loading); other names must be timm architectures (``timm:`` prefix allowed).

    Raises:
        ConfigError: an unknown name, with "did you mean" and the list.
    """
    if name in MODELS.names():
        return name
    if name.startswith("timm:"):  # timm's explicit scheme for its own registry
        name = name[len("timm:") :]
    if name.startswith(_SCHEMES):
        return name
    import timm

    if not timm.is_model(name.split(".")[0]):
        raise _unknown_model(name, timm.list_models())
    return name


def _create_timm(
    name: str, *, num_classes: int, in_chans: int, pretrained: bool, drop_rate: float
) -> nn.Module:
    import timm

    name = check_model_name(name)
    kwargs: dict[str, Any] = {"num_classes": num_classes, "in_chans": in_chans, "drop_rate": drop_rate}
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except OSError as exc:  # hub offline/unreachable, a folder without config or weights
        raise _timm_failure(name, exc) from exc
    except (TypeError, ValueError, RuntimeError) as exc:
        if pretrained:  # no weights published, or weights that do not fit
            raise _timm_failure(name, exc) from exc
        raise ConfigError(f"timm cannot build {name!r} with {kwargs}: {exc}") from exc


def pretrained_normalization(model: nn.Module, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The mean/std the model's pretrained weights expect (timm's ``pretrained_cfg``), per input channel.

    One grey channel gets the average of the RGB values; None when the model declares none.
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean, std = cfg.get("mean"), cfg.get("std")
    if not mean or not std or len(mean) != len(std):
        return None
    mean_t, std_t = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    if channels == len(mean_t):
        return mean_t, std_t
    if channels == 1:
        return (sum(mean_t) / len(mean_t),), (sum(std_t) / len(std_t),)
    return None


def create_model(
    name: str,
    *,
    num_classes: int,
    in_chans: Literal[1, 3] = 1,
    pretrained: bool = False,
    weights_path: Path | None = None,
    drop_rate: float = 0.0,
    head: Head = "linear",
) -> nn.Module:
    """Build a classifier by name.

    Args:
        name: a medbalance model (``small-cnn``, ``resnet22``) or any name
            ``timm.create_model`` takes: an architecture with an optional weights tag
            (``resnet18.a1_in1k``), ``hf-hub:org/repo`` or ``local-dir:/path/to/folder``
            (timm's ``config.json`` plus weights).
        num_classes: outputs of the classifier (the manifest's class count).
        in_chans: 1 for grey images, 3 for RGB.
        pretrained: load the published weights of a timm model from the hub.
        weights_path: a local ``.safetensors`` file or state dict; takes the place
            of the hub (``pretrained`` is then ignored). The first convolution is
            adapted to ``in_chans`` and a classifier of another size is reset.
        drop_rate: dropout before the classifier.
        head: ``linear`` (the model's own) or ``cosine`` (a normalised classifier,
            logits in [-1, 1]; what LDAM pairs with its scale ``s``). A weights file's
            classifier is not loaded into a cosine head.

    Raises:
        ConfigError: unknown name (with suggestions) or an invalid argument.
        CheckpointError: pretrained weights unavailable (offline, unpublished) or a
            weights file that is unsafe or does not fit the architecture.
        FileNotFoundError: ``weights_path`` does not exist.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}.")
    if in_chans not in (1, 3):
        raise ConfigError(f"in_chans must be 1 (grey) or 3 (RGB), got {in_chans!r}.")
    if not 0.0 <= drop_rate < 1.0:
        raise ConfigError(f"drop_rate must be in [0, 1), got {drop_rate!r}.")
    from_hub = pretrained and weights_path is None
    if name in MODELS:
        if from_hub:
            raise CheckpointError(
                f"model {name!r} has no published pretrained weights; train it from scratch "
                f"(pretrained=False) or {_WEIGHTS_HINT}."
            )
        model = MODELS.get(name)(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
    else:
        model = _create_timm(
            name, num_classes=num_classes, in_chans=in_chans, pretrained=from_hub, drop_rate=drop_rate
        )
    if head not in HEADS:
        raise ConfigError(f"head must be one of {', '.join(HEADS)}, got {head!r}.")
    if weights_path is not None:
        load_weights(model, weights_path)
    if head == "cosine":
        use_cosine_classifier(model)
    return model


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """Split a model's parameters into (backbone, head, last block).

    The head is ``model.get_classifier()``; the backbone is everything else; the
    last block (a subset of the backbone) runs from the last ``feature_info``
    stage to the classifier. Works for timm models and medbalance's own.
    """
    params = dict(model.named_parameters())
    backbone, head, last = split_parameter_names(model)
    return [params[n] for n in backbone], [params[n] for n in head], [params[n] for n in last]
