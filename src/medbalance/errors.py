"""Error types the CLI turns into a clean message and a non-zero exit.

User input never meets ``assert``: every check on data, configuration or files
raises one of these (or ``ValueError`` / ``FileNotFoundError``), with a message
that says what failed, what was expected, what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ImageReadError",
    "LeakageError",
    "MedbalanceError",
    "OutputWriteError",
    "TrainingError",
]


class MedbalanceError(Exception):
    """Base class of every error medbalance raises on purpose.

    ``exit_code`` is the command's exit status (``EXIT_CODES`` lists them all).
    """

    exit_code: int = 2


class ConfigError(MedbalanceError, ValueError):
    """A configuration value or option is unknown, mistyped or out of range."""

    exit_code = 2


class DataError(MedbalanceError, ValueError):
    """A manifest, label, split or data source is unusable as given."""

    exit_code = 3


class ImageReadError(DataError):
    """An image file cannot be decoded into a trustworthy pixel array.

    Args:
        path: the file that failed.
        reason: what went wrong and how to fix it.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class LeakageError(DataError):
    """A patient, group or identical file appears in more than one split."""


class TrainingError(MedbalanceError, RuntimeError):
    """Training stopped because continuing would give meaningless results."""

    exit_code = 4


class CheckpointError(MedbalanceError, RuntimeError):
    """A checkpoint is unsafe, incompatible with the run, or unreadable."""

    exit_code = 4


class OutputWriteError(MedbalanceError, OSError):
    """An output file could not be written (no space left, quota exceeded); also an ``OSError``."""

    exit_code = 2


#: The exit status of every ``medbalance`` command, by cause.
EXIT_CODES: dict[int, str] = {
    0: "done",
    1: "done, but some items failed (validation problems, images not predicted, benchmark cells failed)",
    2: "usage or configuration error: an option, flag or config value, or an output location that cannot be written (nothing was done)",
    3: "data error: a manifest, label, split, image or input file (nothing was written)",
    4: "training or checkpoint failure: the run stopped (see its train.log)",
    130: "interrupted (Ctrl+C): completed files kept, partial ones removed",
}
