"""``train(config)``: one classifier, one imbalance strategy, one run folder.

The run folder (the contract with evaluation and benchmark)::

    config.yaml            the resolved TrainConfig
    split.csv              the manifest with its train/val/test split (+ .meta.json)
    history.csv            one row per epoch
    checkpoints/           top-k .safetensors + JSON sidecars, index.json, last.ckpt/last.json
    predictions_val.csv    ids, split, label, prob_<class>, logit_<class> (best checkpoint)
    predictions_test.csv   the same for the test split
    train.log              what happened, collapse warnings included
    summary.json           status completed/failed, best epoch, hashes, class counts, metrics

Example:
    >>> result = train(load_train_config(None, {"out": "runs/baseline", "epochs": 3}))  # doctest: +SKIP
    >>> result.summary["test_metrics"]["auc_roc"], result.model, result.to_frame()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from medbalance.config import config_to_dict, dump_config
from medbalance.errors import CheckpointError, MedbalanceError, OutputWriteError, TrainingError
from medbalance.io import prepare_output_dir
from medbalance.outputs import claim_output_dir
from medbalance.progress import check_progress
from medbalance.strategies import Strategy, create_strategy
from medbalance.training._launch import is_launch_primary, mark_prepared, wait_for_primary
from medbalance.training._run_data import RunData, compute_split_hash, create_datasets, prepare_run_data
from medbalance.training._run_outputs import capture_logs, write_run_predictions, write_summary
from medbalance.training._tracking import describe_trackers, log_final_metrics, log_hyperparameters
from medbalance.training._trainer import create_trainer, resolve_device
from medbalance.training.callbacks import CollapseDetector, EpochSetup, HistoryWriter, NonFiniteLossGuard
from medbalance.training.checkpoints import (
    TopKCheckpoints,
    check_monitor,
    check_resume,
)
from medbalance.training.config import TrainConfig, compute_train_config_hash
from medbalance.training.dataset import ImageDataModule, Normalization
from medbalance.training.finetune import FreezeSchedule
from medbalance.training.models import create_model
from medbalance.training.module import ClassifierTask, OptimizerSettings

__all__ = ["RunResult", "train"]

log = logging.getLogger("medbalance.training")


@dataclass(frozen=True)
class RunResult:
    """What :func:`train` produced.

    Attributes:
        out: the run folder.
        status: ``completed``.
        best_epoch: the epoch of the best checkpoint (None when none was kept).
        summary: the content of ``summary.json``.
        model: the trained network with the best checkpoint's weights, in eval mode
            (None in DDP ranks other than 0).
        config: the resolved configuration.
    """

    out: Path
    status: str
    best_epoch: int | None
    summary: dict[str, Any]
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)
    config: TrainConfig | None = field(default=None, repr=False)

    def to_frame(self) -> Any:
        """The per-epoch history (``history.csv``) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(self.out / "history.csv")

    def predictions(self, split: str = "test") -> Any:
        """``predictions_<split>.csv`` (``val`` or ``test``) as a pandas DataFrame."""
        import pandas as pd

        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}.")
        return pd.read_csv(self.out / f"predictions_{split}.csv")


def _fit_strategy(strategy: Strategy, config: TrainConfig, data: RunData) -> Strategy:
    manifest = data.manifest
    train_split = manifest.subset("train")
    return strategy.fit(
        train_split.label_indices(),
        len(manifest.classes),
        seed=config.seed,
        positive_index=manifest.positive_index if manifest.is_binary else None,
        class_names=manifest.classes,
    )


def _build_network(
    config: TrainConfig, num_classes: int, strategy: Strategy, *, for_checkpoint: bool = False
) -> torch.nn.Module:
    """The network with the classifier head the strategy needs (cosine for LDAM).

    ``for_checkpoint``: a checkpoint's weights are loaded next, so no pretrained weights are fetched.
    """
    return create_model(
        config.model,
        num_classes=num_classes,
        in_chans=int(config.network.channels),  # type: ignore[arg-type]
        pretrained=config.network.pretrained and not for_checkpoint,
        weights_path=None if for_checkpoint else config.network.weights,
        drop_rate=config.network.drop_rate,
        head="cosine" if strategy.classifier_head == "cosine" else "linear",
    )


def _create_model(
    config: TrainConfig, data: RunData, strategy: Strategy
) -> tuple[torch.nn.Module, RunData, dict[str, Any]]:
    """The network, and the run's data normalised as its pretrained weights expect.

    A pretrained backbone (``--pretrained``: hub, ``hf-hub:`` or ``local-dir:``) is fed
    images normalised with its weights' own ``pretrained_cfg`` mean/std, as fine-tuning
    expects; otherwise (and with ``--weights FILE``) the training split's statistics are used.
    """
    model = _build_network(config, len(data.manifest.classes), strategy)
    pretrained = Normalization.from_pretrained(model, int(config.network.channels)) if config.network.pretrained else None
    if config.input.normalize and pretrained is not None:
        data = dataclasses.replace(
            data, preprocessing=pretrained.stored_in(data.preprocessing), normalization=pretrained
        )
        log.info("normalising with the pretrained weights' mean %s and std %s (pretrained_cfg)", *pretrained.values)
    if data.normalization is None:
        return model, data, {"source": "none", "mean": None, "std": None}
    return model, data, data.normalization.record()


def _create_task(
    config: TrainConfig,
    data: RunData,
    strategy: Strategy,
    channels_last: bool,
    model: torch.nn.Module | None = None,
) -> ClassifierTask:
    """The Lightning task around ``model`` (None: a network built for loading a checkpoint into)."""
    manifest = data.manifest
    if model is None:
        model = _build_network(config, len(manifest.classes), strategy, for_checkpoint=True)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return ClassifierTask(
        model,
        strategy,
        class_names=manifest.classes,
        optim=OptimizerSettings(
            optimizer=config.optim.optimizer,
            lr=config.optim.lr,
            weight_decay=config.optim.weight_decay,
            scheduler=config.optim.scheduler,
            lr_warmup_epochs=config.optim.lr_warmup_epochs,
            epochs=config.optim.epochs,
            plateau_monitor=config.checkpoints.monitor,
            plateau_mode="min" if config.checkpoints.monitor == "loss" else "max",
            sam_rho=config.optim.sam_rho if config.optim.sam else None,
        ),
        freeze=FreezeSchedule(config.network.freeze, config.network.warmup_epochs, config.network.unfreeze),
        positive_index=manifest.positive_index if manifest.is_binary else None,
        ordinal=manifest.ordinal,
        batch_normalization=data.normalization if "batch" in strategy.hooks else None,
        seed=config.seed,
        channels_last=channels_last,
        ema_decay=config.optim.ema_decay if config.optim.ema else None,
    )


def check_train_names(config: TrainConfig) -> None:
    """Check every name the run will look up (model, strategy, augmentation, weights file).

    Runs before any preprocessing and before the run folder exists, so a misspelt
    ``--model`` costs a second, not a full preprocessing pass plus a blocked folder.

    Raises:
        ConfigError: an unknown name, with "did you mean" and the list.
        FileNotFoundError: ``--weights`` names no file.
    """
    from medbalance.training.augment import create_augmentation
    from medbalance.training.models import check_model_name

    create_strategy(config.strategy, allow_double_balancing=config.balancing.allow_double_balancing, **config.balancing.strategy_params)
    if config.input.augmentation != "none":
        create_augmentation(config.input.augmentation)
    check_model_name(config.model)
    if config.network.weights is not None and not Path(config.network.weights).is_file():
        raise FileNotFoundError(f"--weights {config.network.weights} is not a file; give the path of a .safetensors file.")


def _discard_unstarted(out: Path, existed: bool) -> None:
    """Remove what a run that failed before training began wrote, so the corrected command just works."""
    import shutil

    if not existed:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _prepare_folder(config: TrainConfig) -> None:
    out = config.out
    if config.run.resume:
        if not (out / "checkpoints" / "last.json").is_file():
            raise MedbalanceError(
                f"cannot resume: {out} holds no checkpoints/last.json (no finished epoch). "
                "Start the run without --resume (add --overwrite to replace the folder)."
            )
        return
    prepare_output_dir(out, overwrite=config.run.overwrite)


def train(
    config: TrainConfig,
    *,
    callbacks: Sequence[Callback] = (),
    cache_progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Train one classifier as ``config`` says and write its run folder.

    Args:
        config: the resolved configuration.
        callbacks: extra Lightning callbacks (e.g. for experiments or tests).
        cache_progress: called with (done, total) while the preprocessing cache is
            built (:meth:`~medbalance.data.cache.PreprocessCache.build`), e.g. to draw
            a bar (``medbalance train`` does when ``config.run.progress``). The epoch bar
            is Lightning's tqdm bar, switched by ``config.run.progress``; a progress-bar
            callback in ``callbacks`` replaces it (``medbalance train`` passes Rich's).

    Returns:
        The run folder, status, best epoch and summary.

    Raises:
        MedbalanceError: the folder holds old results (without ``overwrite``),
            bad data, config or checkpoint; ``summary.json`` says ``failed``
            whenever the folder could be written.
        TrainingError: a NaN/inf loss stopped the run (diagnostic in the folder), or the disk
            filled after training began (the run continues with ``--resume``).
    """
    check_train_names(config)
    cache_progress = check_progress(cache_progress)
    summary: dict[str, Any] = {"status": "running", "out": str(config.out), "strategy": {"name": config.strategy}}
    # Under DDP every rank runs train(); only the primary prepares and writes the folder.
    if not is_launch_primary():
        wait_for_primary(config.out)
        return _train_logged(config, callbacks, summary, cache_progress, primary=False)
    existed = config.out.exists()
    # A second train into the same folder is refused for as long as this one runs.
    with claim_output_dir(config.out):
        _prepare_folder(config)
        try:
            return _train_logged(config, callbacks, summary, cache_progress, primary=True)
        except BaseException:
            if not summary.get(_FIT_STARTED) and not config.run.resume:
                # Failed before training began (bad data, model, weights): keep nothing, so the
                # corrected command runs without --overwrite.
                _discard_unstarted(config.out, existed)
            raise


_FIT_STARTED = "_fit_started"


def _train_logged(
    config: TrainConfig,
    callbacks: Sequence[Callback],
    summary: dict[str, Any],
    cache_progress: Callable[[int, int], None] | None,
    *,
    primary: bool,
) -> RunResult:
    out = config.out
    started = time.time()
    # other DDP ranks print nothing: rank 0 reports the run and logs it to train.log
    logs = capture_logs(out / "train.log") if primary else capture_logs(None, console=False)
    with logs, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
        try:
            result = _train(config, summary, list(callbacks), cache_progress)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, KeyboardInterrupt | SystemExit):  # Lightning turns Ctrl+C into SystemExit
                error = "interrupted; continue the run with --resume"
            summary.update(status="failed", error=error, seconds=round(time.time() - started, 1))
            # file only: the CLI prints the error itself
            log.error("run failed: %s: %s", type(exc).__name__, exc, extra={"file_only": True})
            if primary and (summary.get(_FIT_STARTED) or config.run.resume):
                try:
                    write_summary(out / "summary.json", _public(summary))
                except OutputWriteError:  # the disk is still full: the first error is the one to report
                    log.error("summary.json not updated: no space", extra={"file_only": True})
            if isinstance(exc, OutputWriteError) and (summary.get(_FIT_STARTED) or config.run.resume):
                raise TrainingError(
                    f"{exc} The run stopped; its files up to the last completed checkpoint are whole. "
                    f"Once there is space, continue it with the same command plus --resume "
                    f"(medbalance train ... --out {out} --resume)."
                ) from exc
            raise
        summary.pop(_FIT_STARTED, None)
        summary["seconds"] = round(time.time() - started, 1)
        if primary:
            write_summary(out / "summary.json", summary)
        return result


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != _FIT_STARTED}


def _train(
    config: TrainConfig,
    summary: dict[str, Any],
    extra: list[Callback],
    cache_progress: Callable[[int, int], None] | None,
) -> RunResult:
    out = config.out
    config_hash = compute_train_config_hash(config)
    summary.update(config_hash=config_hash, model=config.model, seed=config.seed)
    device = resolve_device(config)
    # Built first so a misspelt strategy or parameter fails before any data work.
    strategy = create_strategy(
        config.strategy, allow_double_balancing=config.balancing.allow_double_balancing, **config.balancing.strategy_params
    )
    data = prepare_run_data(config, progress=cache_progress)
    manifest = data.manifest
    split_hash = compute_split_hash(manifest)
    check_monitor(config.checkpoints.monitor, ema=config.optim.ema, ordinal=manifest.ordinal, binary=manifest.is_binary)
    last = None
    if config.run.resume:
        last = check_resume(
            out / "checkpoints" / "last.json",
            config_hash=config_hash,
            split_hash=split_hash,
            force=config.run.force,
        )
    if is_launch_primary():
        dump_config(config, out / "config.yaml")
        manifest.save(out / "split.csv")
        mark_prepared(out)
    summary.update(
        classes=list(manifest.classes),
        positive_class=manifest.positive if manifest.is_binary else None,
        task=manifest.task,
        split_hash=split_hash,
        training_class_counts=manifest.class_counts("train"),
        split_class_counts={s: manifest.class_counts(s) for s in ("train", "val", "test")},
        device=device.accelerator,
        precision=device.precision,
    )
    if manifest.is_binary:
        from medbalance.data.positive import describe_positive_class, positive_class_warnings

        declared = manifest.positive_class is not None
        log.info(describe_positive_class(manifest.positive, manifest.classes, declared=declared))
        notes = positive_class_warnings(manifest.positive, manifest.class_counts("train"), declared=declared)
        for note in notes:
            log.warning(note)
        summary["positive_class_warnings"] = notes
    pl.seed_everything(config.seed, workers=True, verbose=False)
    strategy = _fit_strategy(strategy, config, data)
    summary["strategy"] = strategy.describe()
    summary["rebalances"] = bool(strategy.balances)
    model, data, summary["normalization"] = _create_model(config, data, strategy)
    task = _create_task(config, data, strategy, device.channels_last, model)
    sets = create_datasets(data, config, normalize_in_dataset="batch" not in strategy.hooks)
    sidecar = {
        "class_names": list(manifest.classes),
        "positive_class": summary["positive_class"],
        "preprocessing": config_to_dict(data.preprocessing),
        "model": config.model,
        "in_chans": int(config.network.channels),
        "head": strategy.classifier_head,
        "config_hash": config_hash,
        "split_hash": split_hash,
    }
    setup, collapse = EpochSetup(), CollapseDetector(config.balancing.collapse_share, config.balancing.on_collapse)
    ckpt = TopKCheckpoints(
        out / "checkpoints",
        sidecar,
        monitor=config.checkpoints.monitor,
        top_k=config.checkpoints.top_k,
        patience=config.checkpoints.early_stopping_patience,
    )
    callbacks: list[Callback] = [
        setup,
        NonFiniteLossGuard(out / "nan_diagnostic.json"),
        collapse,
        HistoryWriter(out / "history.csv", setup, collapse),
        *extra,
        ckpt,
    ]
    trainer = create_trainer(config, device, callbacks, out)
    if trainer.is_global_zero:
        log_hyperparameters(trainer.loggers, config)
    datamodule = ImageDataModule(
        train=sets["train"],
        val=sets["val"],
        strategy=strategy,
        batch_size=config.optim.batch_size,
        num_workers=config.hardware.num_workers,
        pin_memory=device.accelerator == "gpu",
    )
    ckpt_path = None
    if last is not None:
        task.start_epoch = int(last["epoch"]) + 1
        ckpt_path = str(out / "checkpoints" / "last.ckpt")
        log.info("resuming %s at epoch %d", out, task.start_epoch)
    summary[_FIT_STARTED] = True
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except pickle.UnpicklingError as exc:  # only the resume checkpoint is unpickled, never with code
        raise CheckpointError(
            f"{ckpt_path}: refused to load: the checkpoint holds Python objects that torch.load(weights_only=True) "
            f"does not allow ({str(exc).strip().splitlines()[-1] if str(exc).strip() else 'unpickling error'}); "
            "medbalance never unpickles code. Start the run again without --resume (add --overwrite)."
        ) from exc
    best = ckpt.kept[0] if ckpt.kept else None
    summary.update(
        collapse_events=collapse.events,
        epochs_completed=int(trainer.current_epoch),
        stopped_early=bool(trainer.current_epoch < config.optim.epochs),
        strategy=strategy.describe(),
        monitor=config.checkpoints.monitor,
    )
    if trainer.is_global_zero:
        write_run_predictions(
            out, task, sets, best, summary, batch_size=config.optim.batch_size, device=device.device
        )
        summary["trackers"] = describe_trackers(trainer.loggers[1:])  # [0] is the CSV logger
        log_final_metrics(trainer.loggers, summary, step=trainer.global_step)
    summary["status"] = "completed"
    trained = task.model.eval() if trainer.is_global_zero else None
    return RunResult(out, "completed", summary.get("best_epoch"), summary, model=trained, config=config)
