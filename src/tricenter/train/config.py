"""Training configuration: documented dataclasses, parsed strictly from YAML.

The data may also be described as in metatrain's ``options.yaml`` (top-level
``training_set``, ``validation_set`` and ``test_set``), see
:py:mod:`tricenter.train.metatrain`.

A mistake in the file (an unknown key, a value of the wrong type) is a
:py:class:`ValueError` that names the key, its section and what is allowed:

>>> parse_config({"data": {"path": "x.xyz"}, "training": {"epoch": 3}})
Traceback (most recent call last):
    ...
ValueError: unknown key 'epoch' in section 'training' (did you mean 'epochs'?); \
allowed keys: epochs, batch_size, ...
"""

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..datasets.pairs import BOHR_ANGSTROM, HARTREE_EV
from ..datasets.shipped import SHIPPED
from ..models.build import MODEL_TYPES, default_options
from .metatrain import from_metatrain


#: the learning-rate schedules of ``training.scheduler``
SCHEDULERS = ("plateau", "cosine")
#: ``data.path`` starting with this names a data set shipped with tricenter
SHIPPED_PREFIX = "shipped:"


@dataclass
class DataConfig:
    """Where the structures and their labels come from.

    :param path: extxyz file (``.gz`` accepted), or ``shipped:NAME`` for a data set
        shipped with tricenter (``shipped:b8-pbe-pairs``, ``shipped:b8-xtb-pairs``)
    :param energy_key: ``info`` key of the energy
    :param energy_unit: ``"eV"``, ``"Ha"`` or ``"kcal/mol"``
    :param energy_reference: subtracted from every energy, in ``energy_unit``
    :param forces_key: ``arrays`` key of forces (or gradients); ``None`` to train
        on energies only
    :param forces_unit: ``"eV/A"`` or ``"Ha/Bohr"``
    :param forces_are_gradients: the array holds dE/dR instead of forces
    :param pair_key: ``info`` key grouping frames that must share a split (e.g.
        the two partners of a degenerate pair)
    :param consecutive_pairs: group frames ``2k`` and ``2k + 1`` (when the file has
        no ``pair_key``)
    :param selected_atoms: atom indices whose energies are summed (``None``: all)
    :param max_frames: read only the first frames
    :param indices: use only these frames of the file (``None``: all)
    :param forces_required: a file without the ``forces_key`` array is an error;
        when false, such a file trains on energies only (metatrain's default)
    """

    path: str = ""
    energy_key: str = "energy"
    energy_unit: str = "eV"
    energy_reference: float = 0.0
    forces_key: Optional[str] = None
    forces_unit: str = "eV/A"
    forces_are_gradients: bool = False
    pair_key: Optional[str] = None
    consecutive_pairs: bool = False
    selected_atoms: Optional[List[int]] = None
    max_frames: Optional[int] = None
    indices: Optional[List[int]] = None
    forces_required: bool = True


@dataclass
class ModelConfig:
    """The model to train.

    Options left at ``None`` take the model class's defaults.

    :param type: ``"triplet"`` (deep set on triplets, the paper's B models),
        ``"bispectrum"`` or ``"potential"``
        (:py:class:`~tricenter.models.TripletPotential`, an interatomic potential
        with a frame cutoff)
    :param hypers: featomic-style ``cutoff``, ``density`` and ``basis`` (and
        ``frame_cutoff`` for the potential); ``None``: the paper's hypers for
        ``triplet`` and ``bispectrum``, the potential's own defaults for it
    :param atomic_types: known types (default: those of the training set)
    :param latent: width of the deep set's latent features
    :param encoder_hidden: hidden widths of the triplet encoder (empty: linear)
    :param head_hidden: hidden widths of the energy heads (empty: linear)
    :param encoder_norm: ``"layer"``, ``"group"`` or ``"none"``
    :param head_norm: ``"layer"``, ``"group"`` or ``"none"``
    :param head_activation: ``False`` stacks head layers linearly
    :param channels: the potential's number of compact channels
    :param hidden: hidden widths of the potential's triplet function
    :param fallback_hidden: hidden widths of the potential's atom-centred fallback
    :param norm: normalisation in the potential's triplet function
    :param parity: the potential's σ = −1 triple products (what one frame needs to
        see the part of the density that is odd under its mirror)
    """

    type: str = "triplet"
    hypers: Optional[dict] = None
    atomic_types: Optional[List[int]] = None
    latent: Optional[int] = None
    encoder_hidden: List[int] = field(default_factory=lambda: [128, 128])
    head_hidden: Optional[List[int]] = None
    encoder_norm: str = "layer"
    head_norm: Optional[str] = None
    head_activation: bool = True
    channels: Optional[int] = None
    hidden: Optional[List[int]] = None
    fallback_hidden: Optional[List[int]] = None
    norm: Optional[str] = None
    parity: Optional[bool] = None


@dataclass
class SplitConfig:
    """Seeded split of the groups (pairs) into train / validation / test.

    :param train: fraction of groups used for fitting
    :param val: fraction used for the learning-rate schedule and early stopping
    :param test: fraction only ever evaluated
    :param seed: seed of the permutation
    """

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 0


@dataclass
class OptimConfig:
    """Optimisation.

    :param epochs: maximum number of epochs
    :param batch_size: groups (pairs) per batch
    :param learning_rate: Adam's initial learning rate
    :param scheduler: the learning-rate schedule: ``"plateau"`` multiplies the
        learning rate by ``scheduler_factor`` after ``scheduler_patience`` epochs
        without validation improvement (ReduceLROnPlateau); ``"cosine"`` lowers it
        from ``learning_rate`` to ``min_learning_rate`` along a half cosine over
        ``epochs`` epochs (CosineAnnealingLR), so a resumed cosine run must keep
        its number of epochs
    :param scheduler_patience: epochs without validation improvement before the
        learning rate is multiplied by ``scheduler_factor``
    :param scheduler_factor: factor of ReduceLROnPlateau
    :param min_learning_rate: the learning rate never goes below it
    :param early_stopping: stop after this many epochs without improvement
    :param time_limit: wall-clock budget of the training in seconds, summed over
        resumed runs (``None``: no limit); the epoch that reaches it is the last, and
        a cosine schedule then follows the larger of the fractions of epochs and of
        time spent, so that it reaches ``min_learning_rate`` at the budget
    :param forces_weight: weight of the force loss relative to the energy loss
    :param dtype: ``"float64"`` or ``"float32"``
    :param seed: seed of the model initialisation and of the batch order
    :param threads: torch threads (``None``: torch's default)
    :param progress: show progress bars
    """

    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-3
    scheduler: str = "plateau"
    scheduler_patience: int = 10
    scheduler_factor: float = 0.5
    min_learning_rate: float = 0.0
    early_stopping: int = 30
    time_limit: Optional[float] = None
    forces_weight: float = 1.0
    dtype: str = "float64"
    seed: int = 0
    threads: Optional[int] = None
    progress: bool = True


@dataclass
class FineTuneConfig:
    """Start from a trained model (see :py:mod:`tricenter.train.finetune`).

    :param checkpoint: the trained model: a ``model.pt`` written by ``tricenter
        train``, or the output folder that holds it; its architecture, atomic types
        and input scales are kept (leave the ``model`` section out)
    :param fresh_heads: re-initialise the per-type energy heads
    :param freeze: parameters kept fixed: names or prefixes up to a dot (e.g.
        ``encoder`` for the triplet model, ``phi`` or ``pair_projection`` for the
        potential)
    :param refit_baseline: move the per-type energy shifts to the new data's
        reference energies before training
    """

    checkpoint: str = ""
    fresh_heads: bool = False
    freeze: List[str] = field(default_factory=list)
    refit_baseline: bool = True


@dataclass
class Config:
    """A complete training configuration (the YAML file of ``tricenter train``).

    :param data: see :py:class:`DataConfig`
    :param validation: validation structures read from their own file
        (``split.val`` must then be 0); ``None``: a fraction of ``data``
    :param test: test structures read from their own file (``split.test`` must then
        be 0); ``None``: a fraction of ``data``
    :param model: see :py:class:`ModelConfig`
    :param split: see :py:class:`SplitConfig`
    :param training: see :py:class:`OptimConfig`
    :param output: output directory (checkpoints, log, plots, model)
    :param resume: continue from ``output/checkpoint.pt`` when it exists
    :param fine_tune: start from a trained model (see :py:class:`FineTuneConfig`);
        ``None``: from a freshly initialised one
    """

    data: DataConfig = field(default_factory=DataConfig)
    validation: Optional[DataConfig] = None
    test: Optional[DataConfig] = None
    model: ModelConfig = field(default_factory=ModelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    training: OptimConfig = field(default_factory=OptimConfig)
    output: str = "tricenter-train"
    resume: bool = True
    fine_tune: Optional[FineTuneConfig] = None


_SECTIONS = {
    "data": DataConfig,
    "validation": DataConfig,
    "test": DataConfig,
    "model": ModelConfig,
    "split": SplitConfig,
    "training": OptimConfig,
    "fine_tune": FineTuneConfig,
}


def _unknown_key(key, names, where: str) -> ValueError:
    close = difflib.get_close_matches(str(key), names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ValueError(
        f"unknown key '{key}' in {where}{hint}; allowed keys: {', '.join(names)}"
    )


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Union:
        names = [_type_name(a) for a in typing.get_args(annotation)]
        return " or ".join("null" if n == "NoneType" else n for n in names)
    if typing.get_origin(annotation) is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    return annotation.__name__


def _has_type(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        return any(_has_type(value, a) for a in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _build(cls, values, section: str):
    if not isinstance(values, dict):
        raise ValueError(
            f"section '{section}' must be a mapping of keys to values, got "
            f"{type(values).__name__} {values!r}"
        )
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise _unknown_key(key, list(fields), f"section '{section}'")
        if not _has_type(value, fields[key]):
            raise ValueError(
                f"'{section}.{key}' must be {_type_name(fields[key])}, got "
                f"{type(value).__name__} {value!r}"
            )
    return cls(**values)


def parse_config(values: dict) -> Config:
    """Build a :py:class:`Config` from nested dictionaries, refusing unknown keys
    and values of the wrong type.

    >>> config = parse_config({"data": {"path": "x.xyz"}, "training": {"epochs": 3}})
    >>> config.training.epochs
    3
    """
    if not isinstance(values, dict):
        raise ValueError(
            "the configuration must be a mapping of sections (data, model, split, "
            f"training, output, resume, fine_tune), got {type(values).__name__}"
        )
    values = from_metatrain(values)
    if values.get("fine_tune") is not None and "model" in values:
        raise ValueError(
            "a fine-tuning run keeps the architecture of its checkpoint: leave out "
            "the 'model' section, or the 'fine_tune' section to train a new model"
        )
    names = [f.name for f in dataclasses.fields(Config)]
    kwargs = {}
    for name, value in values.items():
        if name not in names:
            raise _unknown_key(name, names, "the configuration")
        if name in ("validation", "test", "fine_tune") and value is None:
            kwargs[name] = None
        elif name in _SECTIONS:
            kwargs[name] = _build(_SECTIONS[name], value, name)
        elif name == "output" and not isinstance(value, str):
            raise ValueError(f"'output' must be a str, got {value!r}")
        elif name == "resume" and not isinstance(value, bool):
            raise ValueError(f"'resume' must be a bool, got {value!r}")
        else:
            kwargs[name] = value
    config = Config(**kwargs)
    _validate(config)
    return config


def load_config(config) -> Config:
    """A :py:class:`Config` from a Config (returned as it is), a dictionary or the
    path of a YAML file.

    :raises FileNotFoundError: when the YAML file does not exist
    :raises ValueError: when the file is not valid YAML or not a valid configuration
    """
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        import yaml

        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"configuration file '{path}' not found")
        try:
            with path.open() as stream:
                values = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            raise ValueError(f"'{path}' is not valid YAML: {error}") from error
        try:
            return parse_config({} if values is None else values)
        except ValueError as error:
            raise ValueError(f"in '{path}': {error}") from error
    return parse_config(config)


def _validate_data(data: DataConfig, section: str):
    if not data.path:
        raise ValueError(f"'{section}.path' is required")
    if data.path.startswith(SHIPPED_PREFIX):
        name = data.path[len(SHIPPED_PREFIX) :]
        if name not in SHIPPED:
            raise ValueError(
                f"{section}.path: no shipped data set '{name}'; shipped: "
                + ", ".join(SHIPPED_PREFIX + n for n in sorted(SHIPPED))
            )
    if data.energy_unit not in ENERGY_UNITS:
        raise ValueError(
            f"{section}.energy_unit must be one of {sorted(ENERGY_UNITS)}, got "
            f"'{data.energy_unit}'"
        )
    if data.forces_unit not in FORCE_UNITS:
        raise ValueError(
            f"{section}.forces_unit must be one of {sorted(FORCE_UNITS)}, got "
            f"'{data.forces_unit}'"
        )
    if data.indices is not None and min(data.indices, default=0) < 0:
        raise ValueError(f"{section}.indices must be >= 0, got {data.indices}")


def _validate(config: Config):
    _validate_data(config.data, "data")
    if config.fine_tune is not None and not config.fine_tune.checkpoint:
        raise ValueError("'fine_tune.checkpoint' is required")
    for part, fraction in (("validation", "val"), ("test", "test")):
        if getattr(config, part) is None:
            continue
        _validate_data(getattr(config, part), part)
        if getattr(config.split, fraction) != 0:
            raise ValueError(
                f"the {part} structures come from the section '{part}', so "
                f"'split.{fraction}' must be 0, got {getattr(config.split, fraction)}"
            )
    if config.model.type not in MODEL_TYPES:
        raise ValueError(
            f"model.type must be one of {', '.join(MODEL_TYPES)}, got "
            f"'{config.model.type}'"
        )
    # options left out take the model's defaults, written down so that a checkpoint
    # rebuilds the same model whatever later versions choose as defaults
    for name, value in default_options(config.model.type).items():
        if getattr(config.model, name) is None:
            setattr(config.model, name, value)
    if config.training.scheduler not in SCHEDULERS:
        raise ValueError(
            f"training.scheduler must be one of {', '.join(SCHEDULERS)}, got "
            f"'{config.training.scheduler}'"
        )
    if config.training.dtype not in ("float32", "float64"):
        raise ValueError(
            f"training.dtype must be float32 or float64, got '{config.training.dtype}'"
        )
    if config.training.time_limit is not None and config.training.time_limit <= 0:
        raise ValueError(
            "training.time_limit must be a positive number of seconds, got "
            f"{config.training.time_limit}"
        )
    fractions = (config.split.train, config.split.val, config.split.test)
    if min(fractions) < 0 or config.split.train <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")


#: conversion factors to eV
ENERGY_UNITS = {"eV": 1.0, "Ha": HARTREE_EV, "kcal/mol": 0.0433641043}
#: conversion factors to eV/Å
FORCE_UNITS = {
    "eV/A": 1.0,
    "Ha/Bohr": HARTREE_EV / BOHR_ANGSTROM,
    "Ha/A": HARTREE_EV,
    "kcal/mol/A": ENERGY_UNITS["kcal/mol"],
}
