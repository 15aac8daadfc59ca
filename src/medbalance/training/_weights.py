"""Load local weights (``.safetensors`` or a ``weights_only`` state dict) into a model.

Strict except the head: every backbone tensor must be in the file with the
right shape; the first convolution is adapted between 1 and 3 input channels
(timm's ``adapt_input_conv``), and a classifier of another size is left freshly
initialised. Pickles holding Python objects are refused, never unpickled.
"""

from __future__ import annotations

import inspect
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from medbalance.errors import CheckpointError
from medbalance.training._parts import classifier_prefixes

__all__ = ["WeightsReport", "load_state_dict_file", "load_weights"]

_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
_NESTED_KEYS = ("state_dict", "model", "model_state_dict")
_PREFIXES = ("module.", "model.")


@dataclass(frozen=True)
class WeightsReport:
    """What :func:`load_weights` did with a weights file."""

    path: str
    loaded: int
    adapted_input: tuple[str, ...]
    reset_head: tuple[str, ...]
    ignored_head: tuple[str, ...]


def _first(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def _read_pickle(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # not a zip checkpoint: garbage, or a legacy pickle
            unsafe = []
        unsafe = unsafe or re.findall(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if not unsafe:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: not a readable PyTorch state dict with torch.load(weights_only=True) ({first}). "
                "If it holds Python objects, re-save a plain state dict or a .safetensors file."
            ) from exc
        raise CheckpointError(
            f"{path}: refused to load: the file holds Python objects, not just tensors "
            f"(unsafe globals: {', '.join(unsafe)}). medbalance reads .pt/.pth files with "
            "torch.load(weights_only=True) and never unpickles arbitrary code. Save a plain state dict "
            "(torch.save(model.state_dict(), path)) or, better, a .safetensors file."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch state dict ({exc}).") from exc


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or ``.pt/.pth/.bin/.ckpt`` (``weights_only``).

    A dict nested under ``state_dict``/``model`` is unwrapped, and a ``module.``
    or ``model.`` prefix shared by every key is removed.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unknown extension, unsafe pickle, unreadable file, or no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; check the --weights path.")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            data: object = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable .safetensors file ({exc}).") from exc
    elif suffix in _PICKLE_SUFFIXES:
        data = _read_pickle(path)
    else:
        raise CheckpointError(
            f"{path}: unknown weights format {suffix!r}; expected .safetensors or a state dict "
            f"saved with torch.save ({', '.join(_PICKLE_SUFFIXES)})."
        )
    for key in _NESTED_KEYS:
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not any(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: holds no tensors; expected a state dict (parameter name -> tensor).")
    state = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _adapt_input(tensor: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Adapt a first-convolution weight between 1 and 3 input channels, else None."""
    from timm.models import adapt_input_conv

    if tensor.ndim != 4 or target.ndim != 4 or tensor.shape[0] != target.shape[0]:
        return None
    if tensor.shape[2:] != target.shape[2:] or {tensor.shape[1], target.shape[1]} != {1, 3}:
        return None
    source_chans, target_chans = int(tensor.shape[1]), int(target.shape[1])
    if "base_chans" in inspect.signature(adapt_input_conv).parameters:
        return adapt_input_conv(target_chans, tensor, base_chans=source_chans)
    if source_chans == 3:  # timm <= 1.0.29 has no base_chans: it assumes 3-channel source weights
        return adapt_input_conv(target_chans, tensor)
    # grey weights into an RGB model, as newer timm does: repeated, scaled so a grey image activates the same
    return tensor.repeat(1, target_chans, 1, 1) * (source_chans / target_chans)


def load_weights(model: nn.Module, path: str | Path) -> WeightsReport:
    """Copy the tensors of a local weights file into ``model``, strictly except the head.

    Raises:
        CheckpointError: backbone tensors missing, extra non-head tensors, or shapes
            that differ beyond the 1 vs 3 input channels.
    """
    state = load_state_dict_file(path)
    own = model.state_dict()
    head = classifier_prefixes(model)

    def is_head(key: str) -> bool:
        return any(key.startswith(h + ".") for h in head)

    adapted: list[str] = []
    wrong: list[str] = []
    for key, tensor in list(state.items()):
        if key not in own or tensor.shape == own[key].shape:
            continue
        if is_head(key):  # another number of classes: keep the fresh classifier
            del state[key]
            continue
        new = _adapt_input(tensor, own[key])
        if new is None:
            wrong.append(f"{key} (file {tuple(tensor.shape)}, model {tuple(own[key].shape)})")
        else:
            state[key] = new
            adapted.append(key)
    missing = [k for k in own if k not in state and not is_head(k)]
    unexpected = [k for k in state if k not in own and not is_head(k)]
    if wrong or missing or unexpected:
        parts = [f"{len(wrong)} with another shape: {_first(wrong)}" if wrong else ""]
        parts.append(
            f"{len(missing)} backbone tensors missing from the file: {_first(missing)}" if missing else ""
        )
        parts.append(
            f"{len(unexpected)} unexpected tensors in the file: {_first(unexpected)}" if unexpected else ""
        )
        raise CheckpointError(
            f"{path}: does not fit model {type(model).__name__}: {'; '.join(p for p in parts if p)}. "
            "The file must be a state dict of the same architecture (only the classifier may differ); "
            "check the model name and the --weights file."
        )
    ignored = sorted(k for k in state if k not in own)
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return WeightsReport(
        path=str(path),
        loaded=sum(1 for k in state if k in own),
        adapted_input=tuple(adapted),
        reset_head=tuple(k for k in own if k not in state),
        ignored_head=tuple(ignored),
    )
