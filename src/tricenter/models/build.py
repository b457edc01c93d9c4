"""Energy models built from a plain description: the ``model`` section of a
training configuration, as stored in checkpoints.

>>> from tricenter.models.build import build_model
>>> model = build_model({"type": "bispectrum", "head_hidden": [8]}, [5])
>>> type(model).__name__, model.atomic_types
('BispectrumEnergyModel', [5])
"""

import copy
import dataclasses
import inspect
from typing import List, Mapping

import torch

from ..features.hypers import PAPER_HYPERS
from .baselines import BispectrumEnergyModel
from .deepset import TripletEnergyModel
from .potential import POTENTIAL_HYPERS, TripletPotential


#: the dtypes a model may be trained and stored in, by name
DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: the keyword arguments each model type takes from its options
MODEL_OPTIONS = {
    "triplet": (
        "latent",
        "encoder_hidden",
        "head_hidden",
        "encoder_norm",
        "head_norm",
        "head_activation",
    ),
    "bispectrum": ("head_hidden", "head_norm", "head_activation"),
    "potential": (
        "channels",
        "latent",
        "hidden",
        "fallback_hidden",
        "head_hidden",
        "norm",
        "head_norm",
        "parity",
    ),
}

_CLASSES = {
    "triplet": TripletEnergyModel,
    "bispectrum": BispectrumEnergyModel,
    "potential": TripletPotential,
}

#: the hyper-parameters of each model type when the description has none
_DEFAULT_HYPERS = {
    "triplet": PAPER_HYPERS,
    "bispectrum": PAPER_HYPERS,
    "potential": POTENTIAL_HYPERS,
}


#: the model types :py:func:`build_model` knows
MODEL_TYPES = tuple(_CLASSES)


def default_options(kind: str) -> dict:
    """The ``hypers`` and the options of :py:data:`MODEL_OPTIONS` that a model of
    type ``kind`` takes by default (a fresh copy).

    >>> default_options("potential")["hypers"]["frame_cutoff"]["radius"]
    3.0
    """
    if kind not in _CLASSES:
        raise ValueError(f"model type must be one of {sorted(_CLASSES)}, got '{kind}'")
    parameters = inspect.signature(_CLASSES[kind].__init__).parameters
    values = {name: parameters[name].default for name in MODEL_OPTIONS[kind]}
    values["hypers"] = copy.deepcopy(_DEFAULT_HYPERS[kind])
    return values


def build_model(options, atomic_types: List[int]) -> torch.nn.Module:
    """The energy model described by ``options``.

    :param options: a mapping (or dataclass, such as
        :py:class:`~tricenter.train.config.ModelConfig`) with the model ``type``
        (``"triplet"``, ``"bispectrum"`` or ``"potential"``), its ``hypers``
        (default: the paper's, :py:data:`~tricenter.models.potential.POTENTIAL_HYPERS`
        for the potential)
        and the options of :py:data:`MODEL_OPTIONS` for that type (missing ones, or
        ``None``, take the model class's defaults); other entries (such as
        ``atomic_types``) are ignored
    :param atomic_types: the atomic types the model knows
    :return: a freshly initialised model, in the default dtype
    """
    if dataclasses.is_dataclass(options):
        options = dataclasses.asdict(options)
    if not isinstance(options, Mapping):
        raise ValueError(f"model options must be a mapping, got {type(options)}")
    kind = options.get("type", "triplet")
    if kind not in _CLASSES:
        raise ValueError(f"model type must be one of {sorted(_CLASSES)}, got '{kind}'")
    hypers = options.get("hypers") or _DEFAULT_HYPERS[kind]
    kwargs = {
        name: options[name]
        for name in MODEL_OPTIONS[kind]
        if options.get(name) is not None
    }
    return _CLASSES[kind](hypers, list(atomic_types), **kwargs)
