"""Find a model's head, backbone and last block by parameter name.

Works for timm models (``get_classifier()`` and ``feature_info``) and for
medbalance's own networks, which expose the same two things.
"""

from __future__ import annotations

from torch import nn

__all__ = ["classifier_prefixes", "last_block_prefix", "split_parameter_names"]


def classifier_prefixes(model: nn.Module) -> list[str]:
    """Module names of the classifier(s) ``model.get_classifier()`` returns (e.g. ``["fc"]``)."""
    get = getattr(model, "get_classifier", None)
    if get is None:
        raise TypeError(
            f"{type(model).__name__} has no get_classifier(); medbalance needs a timm model or one of its own "
            "models (see `medbalance models`) to tell the head from the backbone."
        )
    heads = get()
    heads = list(heads) if isinstance(heads, tuple | list) else [heads]
    names = [name for name, module in model.named_modules() if any(module is h for h in heads) and name]
    return names


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def last_block_prefix(model: nn.Module, head: list[str] | None = None) -> str | None:
    """Module name of the last feature stage, e.g. ``"layer4"`` or ``"stages.3"``.

    Taken from the last entry of ``model.feature_info``; without it, the last
    top-level child holding parameters (descending once into a container).
    """
    modules = dict(model.named_modules())
    info = getattr(model, "feature_info", None)
    if isinstance(info, list) and info and isinstance(info[-1], dict):
        name = str(info[-1].get("module", ""))
        for candidate in (name, name.replace("_", ".")):
            if candidate and candidate in modules:
                return candidate
    head = classifier_prefixes(model) if head is None else head
    children = [
        (n, m)
        for n, m in model.named_children()
        if not any(_under(n, h) for h in head) and any(True for _ in m.parameters())
    ]
    if not children:
        return None
    name, module = children[-1]
    if isinstance(module, nn.Sequential | nn.ModuleList):
        inner = [n for n, m in module.named_children() if any(True for _ in m.parameters())]
        if len(inner) > 1:
            return f"{name}.{inner[-1]}"
    return name


def split_parameter_names(model: nn.Module) -> tuple[list[str], list[str], list[str]]:
    """Parameter names of (backbone, head, last block); the last block is part of the backbone.

    The last block is every backbone parameter from the first one inside the last
    feature stage on, in registration order, so layers between the last stage and
    the classifier (timm's ``conv_head``, ``head.norm``, a ViT's final ``norm``)
    count as part of it.
    """
    head = classifier_prefixes(model)
    names = [n for n, _ in model.named_parameters()]
    head_names = [n for n in names if any(_under(n, h) for h in head)]
    backbone = [n for n in names if n not in set(head_names)]
    prefix = last_block_prefix(model, head)
    start = next(
        (i for i, n in enumerate(backbone) if prefix is not None and _under(n, prefix)), len(backbone)
    )
    return backbone, head_names, backbone[start:]
