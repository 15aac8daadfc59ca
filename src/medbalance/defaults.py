"""Defaults that more than one module offers, stated once.

The phantom generator (``synth.PhantomConfig``), training's ``phantoms:`` section
(``training.config.PhantomSpec``) and ``medbalance synth phantoms`` all default to
``PHANTOM_DEFAULTS``; ``TrainConfig.lr`` and the task's ``OptimizerSettings.lr`` to
``DEFAULT_LR``. The demo's preset (``demo.DEMO_PRESET``) deliberately differs and says so.

>>> PHANTOM_DEFAULTS["prevalence"], DEFAULT_LR
(0.05, 0.0005)
"""

from __future__ import annotations

__all__ = ["DEFAULT_LR", "PHANTOM_DEFAULTS"]

#: AdamW learning rate of a training run.
DEFAULT_LR = 5e-4

#: Phantom settings: 100 patients (4 images each), 19:1 malignant breasts, 128 px, 2 vendors.
PHANTOM_DEFAULTS: dict[str, object] = {
    "n_patients": 100,
    "prevalence": 0.05,
    "size": 128,
    "lesion_contrast": 3.0,
    "domains": ("vendor-a", "vendor-b"),
}
