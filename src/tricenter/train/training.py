"""Names of the former single training module, importable from here until their
users import them from :py:mod:`tricenter.train` and :py:mod:`tricenter.models`."""

from ..datasets import read_extxyz as read_frames
from ..models.build import DTYPES, build_model
from .config import load_config
from .data import Dataset, check_types, group_batches, load_dataset, split_groups
from .energy import (
    calibrate,
    energy_loss,
    evaluate_energies,
    fit_energy_scales,
    predict_energies,
    selection,
)
from .loop import BatchLoss, fit, write_log
from .run import add_cli_arguments, run_cli, train


__all__ = [
    "DTYPES",
    "BatchLoss",
    "Dataset",
    "add_cli_arguments",
    "build_model",
    "calibrate",
    "check_types",
    "energy_loss",
    "evaluate_energies",
    "fit",
    "fit_energy_scales",
    "group_batches",
    "load_config",
    "load_dataset",
    "predict_energies",
    "read_frames",
    "run_cli",
    "selection",
    "split_groups",
    "train",
    "write_log",
]
