"""CLI command ``train``: one classifier, one imbalance strategy, one run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from medbalance.errors import ConfigError

__all__ = ["parse_key_values", "register"]


def parse_key_values(items: list[str] | None, *, option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; each value is read as a YAML scalar or list (``2``, ``0.5``, ``[1,3]``, ``mass``).

    Raises:
        ConfigError: an item without ``=`` or with an empty key.
    """
    import yaml

    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} expects KEY=VALUE (e.g. {option} gamma=2), got {item!r}.")
        try:
            values[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{option} {item!r}: the value is not a number, word or [list] ({exc})."
            ) from exc
    return values


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise ConfigError(
            f"{option} expects comma-separated numbers such as 0.6,0.2,0.2, got {text!r}."
        ) from exc


def train(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder (new or empty; see --overwrite, --resume)."
    ),
    data: str | None = typer.Option(
        None, "--data", help="Manifest CSV (from `medbalance data`) or 'phantoms'."
    ),
    strategy: str | None = typer.Option(
        None, "--strategy", help="Imbalance strategy (`medbalance strategies`)."
    ),
    strategy_param: list[str] | None = typer.Option(
        None, "--strategy-param", help="Strategy parameter KEY=VALUE (repeatable), e.g. gamma=2."
    ),
    allow_double_balancing: bool | None = typer.Option(
        None, "--allow-double-balancing", help="Accept a balanced sampler plus a balancing loss."
    ),
    model: str | None = typer.Option(None, "--model", help="small-cnn, resnet22 or any timm model name."),
    pretrained: bool | None = typer.Option(
        None, "--pretrained", help="Load the model hub's weights (online)."
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="Local weights file (.safetensors/state dict)."
    ),
    config_file: Path | None = typer.Option(None, "--config", help="YAML config; flags override its keys."),
    set_: list[str] | None = typer.Option(
        None,
        "--set",
        help="Any config key, dotted for nested ones, e.g. --set phantoms.size=64 (repeatable).",
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Images per batch (per device)."),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate."),
    optimizer: str | None = typer.Option(None, "--optimizer", help="adamw or sgd."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="cosine, plateau or none."),
    lr_warmup_epochs: int | None = typer.Option(None, "--lr-warmup-epochs", help="Linear LR warm-up epochs."),
    grad_clip: float | None = typer.Option(None, "--grad-clip", help="Gradient-norm clipping value."),
    image_size: int | None = typer.Option(None, "--image-size", help="Side of the square input in pixels."),
    preprocess: str | None = typer.Option(None, "--preprocess", help="mammography or generic."),
    channels: int | None = typer.Option(None, "--channels", help="1 (grey) or 3 input channels."),
    augment: str | None = typer.Option(
        None, "--augment", help="Augmentation preset: none, mammography, dermoscopy."
    ),
    seed: int | None = typer.Option(None, "--seed", help="One seed for split, sampling, augmentation, init."),
    fractions: str | None = typer.Option(
        None, "--fractions", help="Train,val,test shares, e.g. 0.6,0.2,0.2."
    ),
    classes: str | None = typer.Option(None, "--classes", help="Ordered class list, comma-separated."),
    positive_class: str | None = typer.Option(
        None, "--positive-class", help="Positive class of a binary task."
    ),
    freeze: str | None = typer.Option(None, "--freeze", help="none or backbone (head-only first)."),
    warmup_epochs: int | None = typer.Option(
        None, "--warmup-epochs", help="Head-only epochs before unfreezing."
    ),
    unfreeze: str | None = typer.Option(
        None, "--unfreeze", help="What unfreezes after warm-up: all, last-block."
    ),
    monitor: str | None = typer.Option(
        None, "--monitor", help="Checkpoint metric: auc_roc, mcc, macro_f1, balanced_accuracy, loss, ..."
    ),
    top_k: int | None = typer.Option(None, "--top-k", help="Best checkpoints kept."),
    early_stopping: int | None = typer.Option(
        None, "--early-stopping", help="Patience in epochs (off if unset)."
    ),
    on_collapse: str | None = typer.Option(
        None, "--on-collapse", help="warn or stop when predictions collapse."
    ),
    ema: bool | None = typer.Option(None, "--ema/--no-ema", help="Keep an EMA of the weights (decay 0.999)."),
    sam: bool | None = typer.Option(
        None, "--sam/--no-sam", help="Sharpness-aware minimisation (2 passes/step)."
    ),
    sam_rho: float | None = typer.Option(None, "--sam-rho", help="SAM neighbourhood radius (0.05)."),
    fold: int | None = typer.Option(None, "--fold", help="Test on this fold of the manifest's fold column."),
    precision: str | None = typer.Option(None, "--precision", help="auto, 32-true, 16-mixed, bf16-mixed."),
    accelerator: str | None = typer.Option(
        None, "--accelerator", help="auto (CUDA, else Apple MPS, else CPU), cpu, gpu or mps."
    ),
    devices: str | None = typer.Option(
        None, "--devices", help="'auto', a device count (2) or GPU ids (0,2; one id as 3,)."
    ),
    distributed: str | None = typer.Option(None, "--distributed", help="auto or ddp (Lightning strategy)."),
    num_nodes: int | None = typer.Option(None, "--num-nodes", help="Machines for multi-node DDP."),
    num_workers: int | None = typer.Option(None, "--num-workers", help="DataLoader worker processes."),
    logger: list[str] | None = typer.Option(
        None,
        "--logger",
        help="Tracker besides CSV (repeatable): tensorboard, mlflow or wandb (docs/integrations.md).",
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Preprocessing cache folder."),
    phantom_patients: int | None = typer.Option(None, "--phantom-patients", help="Phantoms: patients."),
    phantom_prevalence: float | None = typer.Option(
        None, "--phantom-prevalence", help="Phantoms: prevalence."
    ),
    phantom_size: int | None = typer.Option(None, "--phantom-size", help="Phantoms: image size in pixels."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="Show progress bars."),
    resume: bool | None = typer.Option(
        None, "--resume", help="Continue the run in --out from its last epoch."
    ),
    force: bool | None = typer.Option(None, "--force", help="Resume even if the config or split changed."),
    overwrite: bool | None = typer.Option(None, "--overwrite", help="Replace an existing run folder."),
) -> None:
    """Train one classifier with one imbalance strategy and write its run folder."""
    from rich.console import Console
    from rich.markup import escape

    from medbalance.cli._progress import cache_progress_bar, epoch_progress_callbacks
    from medbalance.training.config import load_train_config
    from medbalance.training.run import train as run_training

    values: dict[str, Any] = {
        "out": out,
        "data": data,
        "strategy": strategy,
        "allow_double_balancing": allow_double_balancing,
        "model": model,
        "pretrained": pretrained,
        "weights": weights,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "lr_warmup_epochs": lr_warmup_epochs,
        "grad_clip": grad_clip,
        "image_size": image_size,
        "preprocess": preprocess,
        "channels": channels,
        "augmentation": augment,
        "seed": seed,
        "fractions": _floats(fractions, "--fractions"),
        "positive_class": positive_class,
        "classes": [c.strip() for c in classes.split(",")] if classes else None,
        "freeze": freeze,
        "warmup_epochs": warmup_epochs,
        "unfreeze": unfreeze,
        "monitor": monitor,
        "top_k": top_k,
        "early_stopping_patience": early_stopping,
        "on_collapse": on_collapse,
        "ema": ema,
        "sam": sam,
        "sam_rho": sam_rho,
        "fold": fold,
        "precision": precision,
        "accelerator": accelerator,
        "devices": devices,
        "distributed": distributed,
        "num_nodes": num_nodes,
        "num_workers": num_workers,
        "loggers": logger or None,
        "cache_dir": cache_dir,
        "progress": progress,
        "resume": resume,
        "force": force,
        "overwrite": overwrite,
    }
    if strategy_param:
        values["strategy_params"] = parse_key_values(strategy_param, option="--strategy-param")
    values.update(parse_key_values(set_, option="--set"))
    phantoms = {"n_patients": phantom_patients, "prevalence": phantom_prevalence, "size": phantom_size}
    if any(v is not None for v in phantoms.values()):
        values["phantoms"] = {k: v for k, v in phantoms.items() if v is not None}
    config = load_train_config(config_file, values)
    with cache_progress_bar(enabled=config.run.progress) as update:
        result = run_training(
            config, callbacks=epoch_progress_callbacks(enabled=config.run.progress), cache_progress=update
        )
    from medbalance.training._launch import is_launch_primary

    if not is_launch_primary():  # DDP ranks > 0: rank 0 reports the run
        return
    metrics = result.summary.get("test_metrics") or {}
    shown = ", ".join(
        f"{k} {v:.3f}"
        for k, v in metrics.items()
        if k in ("auc_roc", "sensitivity", "specificity") and v is not None
    )
    positive = result.summary.get("positive_class")
    about = f"; positive class {positive!r}" if positive else ""
    Console().print(
        f"[bold green]{result.status}[/]: "
        + escape(f"best epoch {result.best_epoch}; test {shown or 'n/a'}{about}; run folder {result.out}")
    )


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``; its help shows ``TrainConfig``'s defaults."""
    from medbalance.cli._help import show_config_defaults
    from medbalance.training.config import TrainConfig

    renamed = {
        "augment": "augmentation", "early_stopping": "early_stopping_patience", "logger": "loggers",
        "phantom_patients": "phantoms.n_patients", "phantom_prevalence": "phantoms.prevalence",
        "phantom_size": "phantoms.size",
    }  # fmt: skip
    app.command("train")(show_config_defaults(train, TrainConfig, fields=renamed))
