"""Training from a YAML configuration.

- :py:mod:`~tricenter.train.config`: the configuration, parsed strictly;
- :py:mod:`~tricenter.train.metatrain`: metatrain's ``options.yaml`` data layout;
- :py:mod:`~tricenter.train.data`: labelled structures, splits and batches of pairs;
- :py:mod:`~tricenter.train.loop`: the optimisation loop, resumable;
- :py:mod:`~tricenter.train.energy`: energies, forces and losses of energy models;
- :py:mod:`~tricenter.train.finetune`: starting from a trained model;
- :py:mod:`~tricenter.train.run`: :py:func:`train` and ``tricenter train``.
"""

from .config import Config, load_config, parse_config
from .data import Dataset, load_dataset, load_parts, split_groups
from .energy import (
    calibrate,
    energy_loss,
    evaluate_energies,
    fit_energy_scales,
    predict_energies,
    selection,
)
from .loop import fit
from .run import train


__all__ = [
    "Config",
    "Dataset",
    "calibrate",
    "energy_loss",
    "evaluate_energies",
    "fit",
    "fit_energy_scales",
    "load_config",
    "load_dataset",
    "load_parts",
    "parse_config",
    "predict_energies",
    "selection",
    "split_groups",
    "train",
]
