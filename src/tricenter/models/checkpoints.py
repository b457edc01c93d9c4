"""Checkpoints of trained energy models: one versioned writer and one reader.

A checkpoint is a ``torch.save`` dictionary. Version 2 holds

- ``"tricenter_checkpoint"``: the format version (:py:data:`CHECKPOINT_VERSION`);
- ``"model"``: the model's description (``type``, ``hypers`` and the options of that
  type) for :py:func:`~tricenter.models.build.build_model`;
- ``"atomic_types"``: the atomic types the model knows;
- ``"dtype"``: ``"float32"`` or ``"float64"``, the dtype of the weights;
- ``"state_dict"``: the weights;
- ``"config"``: the complete training configuration, as a dictionary, or ``None``.

Version 1 (written by ``tricenter train`` before the format had a version) held only
``state_dict``, ``config`` and ``atomic_types``: the model description and the dtype
lived inside the training configuration. Reading upgrades older files one version at
a time, so that every older file stays readable.

>>> import tempfile
>>> from pathlib import Path
>>> from tricenter.models.build import build_model
>>> model = build_model({"type": "bispectrum"}, [1, 6]).to(torch.float64)
>>> path = Path(tempfile.mkdtemp()) / "model.pt"
>>> save_checkpoint(model, {"type": "bispectrum"}, path)
>>> read_checkpoint(path)["tricenter_checkpoint"]
2
>>> load_checkpoint(path).atomic_types
[1, 6]
"""

import copy
import dataclasses
import os
import zipfile
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import torch

from .build import DTYPES, build_model


#: the version :py:func:`save_checkpoint` writes
CHECKPOINT_VERSION = 2

_VERSION_KEY = "tricenter_checkpoint"


def _dtype_name(model: torch.nn.Module) -> str:
    for name, dtype in DTYPES.items():
        if all(
            t.dtype == dtype
            for t in model.state_dict().values()
            if t.is_floating_point()
        ):
            return name
    raise ValueError("the model's weights mix float32 and float64")


def save_checkpoint(
    model: torch.nn.Module,
    options,
    path: Union[str, Path],
    config: Optional[dict] = None,
) -> None:
    """Write a model to a checkpoint of the current version.

    :param model: the trained energy model (it knows its ``atomic_types``)
    :param options: the description it was built from by
        :py:func:`~tricenter.models.build.build_model` (mapping or dataclass)
    :param path: the file to write; written whole or not at all
    :param config: the training configuration, kept for the record
    """
    if dataclasses.is_dataclass(options):
        options = dataclasses.asdict(options)
    checkpoint = {
        _VERSION_KEY: CHECKPOINT_VERSION,
        "model": {k: v for k, v in options.items() if k != "atomic_types"},
        "atomic_types": [int(t) for t in model.atomic_types],
        "dtype": _dtype_name(model),
        "state_dict": model.state_dict(),
        "config": config,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, temporary)
    os.replace(temporary, path)


def _upgrade_v1(checkpoint: dict) -> dict:
    config = checkpoint["config"]
    model = {k: v for k, v in config["model"].items() if k != "atomic_types"}
    types = checkpoint.get("atomic_types") or config["model"]["atomic_types"]
    return {
        _VERSION_KEY: 2,
        "model": model,
        "atomic_types": [int(t) for t in types],
        "dtype": config.get("training", {}).get("dtype", "float64"),
        "state_dict": checkpoint["state_dict"],
        "config": config,
    }


#: ``UPGRADES[v]`` turns a version ``v`` checkpoint into a version ``v + 1`` one
UPGRADES: Dict[int, Callable[[dict], dict]] = {1: _upgrade_v1}


def checkpoint_version(checkpoint: dict) -> int:
    """Format version of a checkpoint dictionary (files without one are version 1)."""
    return int(checkpoint.get(_VERSION_KEY, 1))


def upgrade_checkpoint(checkpoint: dict) -> dict:
    """The checkpoint in the current format, upgraded one version at a time.

    :raises ValueError: for a checkpoint newer than this version of tricenter reads
    """
    version = checkpoint_version(checkpoint)
    if version > CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint format version {version} is newer than the version "
            f"{CHECKPOINT_VERSION} this tricenter reads: upgrade tricenter"
        )
    checkpoint = copy.copy(checkpoint)
    while version < CHECKPOINT_VERSION:
        checkpoint = UPGRADES[version](checkpoint)
        version = checkpoint_version(checkpoint)
    return checkpoint


def _is_exported(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("/extra/model-metadata") for n in archive.namelist())


def _read(path: Path):
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist")
    if _is_exported(path):
        raise ValueError(
            f"'{path}' is an exported metatomic model, not a training "
            "checkpoint: engines can use it as it is"
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ValueError(f"could not read checkpoint '{path}': {error}") from error
    if isinstance(saved, dict) and "optimizer" in saved:
        raise ValueError(
            f"'{path}' is the resumable training state; use the 'model.pt' that "
            "training writes next to it when it ends"
        )
    return path, saved


def read_checkpoint(path: Union[str, Path]) -> dict:
    """The dictionary of a checkpoint file, upgraded to the current version.

    :param path: checkpoint file, or a training output folder (its ``model.pt``)
    :raises FileNotFoundError: when there is no such file
    :raises ValueError: when the file is not a model checkpoint
    """
    return _upgraded(*_read(Path(path)))


def _upgraded(path: Path, saved) -> dict:
    if not isinstance(saved, dict) or not (
        _VERSION_KEY in saved or {"state_dict", "config"} <= set(saved)
    ):
        raise ValueError(
            f"checkpoint '{path}' holds a {type(saved).__name__}, not a tricenter "
            "model checkpoint"
        )
    return upgrade_checkpoint(saved)


def load_checkpoint(path: Union[str, Path]) -> torch.nn.Module:
    """The trained energy model of a checkpoint, in evaluation mode.

    Accepted: checkpoints of every version (the ``model.pt`` that ``tricenter
    train`` writes), a training output folder, and files written by
    ``torch.save(model, path)`` of an energy model.

    :param path: checkpoint file, or a training output folder
    """
    path, saved = _read(Path(path))
    if isinstance(saved, torch.nn.Module):
        return saved.eval()
    return model_of(_upgraded(path, saved)).eval()


def model_of(checkpoint: dict) -> torch.nn.Module:
    """The model of a checkpoint dictionary of the current version (from
    :py:func:`read_checkpoint`), with its weights and dtype."""
    model = build_model(checkpoint["model"], checkpoint["atomic_types"])
    model = model.to(DTYPES[checkpoint["dtype"]])
    model.load_state_dict(checkpoint["state_dict"])
    return model
