"""metatrain's data layout in a training configuration.

A configuration may describe its data as metatrain's ``options.yaml`` does, so that
the ``training_set``, ``validation_set`` and ``test_set`` of a metatrain run can be
copied unchanged:

.. code-block:: yaml

    training_set:
      systems: {read_from: si.xyz, length_unit: angstrom}
      targets:
        energy: {key: energy, unit: eV, forces: {key: forces}}
    validation_set: 0.1
    test_set: test.xyz

This module turns these keys into tricenter's sections (``data``, ``validation``,
``test`` and the fractions of ``split``), with metatrain's defaults: a file given as
a string holds the energy under ``energy`` and, when present, forces under
``forces``; ``validation_set`` is required; ``test_set`` defaults to 0. A fraction
is a fraction of the training file, split by tricenter's seeded permutation
(``split.seed``), not by metatrain's random generator: to train both on the same
structures, give files or ``indices``.

The common subset is supported: one data set (not a list), ASE-readable files, one
energy target with forces, energies in eV, Hartree or kcal/mol and lengths in Å.
Anything else (stress, other targets, ``extra_data``, other units, metatrain's
``architecture`` or ``seed``) is a :py:class:`ValueError` that says what to use
instead.

>>> sections = from_metatrain({"training_set": "si.xyz", "validation_set": 0.1})
>>> sections["data"]["path"], sections["split"]
('si.xyz', {'train': 0.9, 'val': 0.1, 'test': 0.0})
"""

from pathlib import Path

import numpy as np


#: top-level keys of metatrain's data layout
DATA_KEYS = ("training_set", "validation_set", "test_set")
#: metatrain options that a tricenter configuration says elsewhere
ELSEWHERE = {
    "architecture": "describe the model in the section 'model'",
    "seed": "set 'split.seed' and 'training.seed'",
    "base_precision": "set 'training.dtype' (float32 or float64)",
    "device": "tricenter trains on the CPU or the device torch selects",
    "loss": "set 'training.forces_weight'",
    "wandb": "tricenter writes log.csv and loss.png into the output folder",
}
#: metatrain energy units and tricenter's names for them
ENERGY_UNITS = {
    "": "eV",
    "ev": "eV",
    "hartree": "Ha",
    "ha": "Ha",
    "kcal/mol": "kcal/mol",
}
#: forces are in energy unit per Å
FORCE_UNITS = {"eV": "eV/A", "Ha": "Ha/A", "kcal/mol": "kcal/mol/A"}
LENGTH_UNITS = ("", "angstrom", "a", "å")


def _error(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _mapping(value, where: str, allowed) -> dict:
    if not isinstance(value, dict):
        raise _error(where, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _error(
            where,
            f"unsupported key '{unknown[0]}' (tricenter reads {', '.join(allowed)})",
        )
    return value


def _reader(value, where: str):
    if value not in (None, "ase"):
        raise _error(where, f"reader '{value}' is not supported; use ase or null")


def _indices(value, where: str) -> list:
    if isinstance(value, str):
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"{where}.indices: no file '{path}'")
        return np.loadtxt(path, dtype=int).reshape(-1).tolist()
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise _error(
            f"{where}.indices", "expected a list of integers or a file of indices"
        )
    return list(value)


def _systems(value, where: str) -> str:
    if isinstance(value, str):
        return value
    value = _mapping(value, where, ("read_from", "reader", "length_unit"))
    _reader(value.get("reader"), where)
    unit = value.get("length_unit") or ""
    if str(unit).lower() not in LENGTH_UNITS:
        raise _error(
            where, f"length_unit '{unit}' is not supported; positions must be in Å"
        )
    if "read_from" not in value:
        raise _error(where, "read_from (the file of the structures) is required")
    return value["read_from"]


def _same_file(value, path: str, where: str):
    if value is not None and value != path:
        raise _error(
            where,
            f"read_from '{value}' differs from the systems' file '{path}'; tricenter "
            "reads the labels from the file of the structures",
        )


def _forces(value, path: str, where: str) -> dict:
    """``forces_key`` and ``forces_required`` of a metatrain forces section."""
    if value is None or value is True:
        return {"forces_key": "forces", "forces_required": False}
    if value is False:
        return {"forces_key": None}
    if isinstance(value, str):
        _same_file(value, path, where)
        return {"forces_key": "forces", "forces_required": False}
    value = _mapping(value, where, ("read_from", "reader", "key"))
    _same_file(value.get("read_from"), path, where)
    _reader(value.get("reader"), where)
    return {"forces_key": value.get("key", "forces"), "forces_required": True}


def _energy(value, path: str, where: str) -> dict:
    if isinstance(value, str):
        _same_file(value, path, where)
        value = {}
    allowed = (
        "quantity", "read_from", "reader", "key", "unit", "sample_kind", "per_atom",
        "type", "num_subtargets", "description", "forces", "stress", "virial",
    )  # fmt: skip
    value = _mapping(value, where, allowed)
    _same_file(value.get("read_from"), path, where)
    _reader(value.get("reader"), where)
    if value.get("quantity", "energy") not in ("energy", ""):
        raise _error(where, "only an energy target is supported")
    if value.get("sample_kind", "system") != "system" or value.get("per_atom"):
        raise _error(where, "only one energy per structure is supported")
    if value.get("type", "scalar") != "scalar" or value.get("num_subtargets", 1) != 1:
        raise _error(where, "only a scalar energy is supported")
    for gradient in ("stress", "virial"):
        if value.get(gradient) not in (None, False):
            raise _error(
                where,
                f"tricenter does not train on the {gradient}; set {gradient}: false",
            )
    unit = str(value.get("unit", ""))
    if unit.lower() not in ENERGY_UNITS:
        raise _error(
            where,
            f"unit '{unit}' is not supported; use eV, Hartree or kcal/mol",
        )
    energy_unit = ENERGY_UNITS[unit.lower()]
    return {
        "energy_key": value.get("key", "energy"),
        "energy_unit": energy_unit,
        "forces_unit": FORCE_UNITS[energy_unit],
        **_forces(value.get("forces"), path, f"{where}.forces"),
    }


def dataset_section(value, where: str) -> dict:
    """tricenter's ``data`` section for one metatrain data set.

    :param value: a file name, or a mapping with ``systems``, ``targets`` and
        ``indices``
    :param where: the key it comes from, for error messages
    """
    if isinstance(value, list):
        raise _error(where, "a list of data sets is not supported; give one")
    if isinstance(value, str):
        return {
            "path": value,
            "energy_key": "energy",
            "forces_key": "forces",
            "forces_required": False,
        }
    value = _mapping(value, where, ("systems", "targets", "indices"))
    if "systems" not in value or "targets" not in value:
        raise _error(where, "'systems' and 'targets' are required")
    path = _systems(value["systems"], f"{where}.systems")
    targets = value["targets"]
    if not isinstance(targets, dict) or list(targets) != ["energy"]:
        names = list(targets) if isinstance(targets, dict) else targets
        raise _error(
            f"{where}.targets",
            f"exactly one target, 'energy', is supported; got {names}",
        )
    section = {"path": path, **_energy(targets["energy"], path, f"{where}.targets")}
    if "indices" in value:
        section["indices"] = _indices(value["indices"], where)
    return section


def _part(value, training: dict, where: str):
    """A fraction, or the ``data`` section of a validation or test set."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value < 1:
            raise _error(where, f"a fraction must be in [0, 1), got {value}")
        return float(value), None
    if isinstance(value, dict) and list(value) == ["indices"]:
        return 0.0, {**training, "indices": _indices(value["indices"], where)}
    return 0.0, dataset_section(value, where)


def from_metatrain(values: dict) -> dict:
    """Replace metatrain's data keys by tricenter's sections.

    A configuration without ``training_set`` is returned unchanged.

    :param values: the parsed YAML file
    :return: the configuration with ``data``, ``validation``, ``test`` and the
        fractions of ``split`` instead of metatrain's keys
    :raises ValueError: for layouts and options that tricenter does not support
    """
    for key, advice in ELSEWHERE.items():
        if key in values:
            raise ValueError(f"'{key}' is a metatrain option: {advice}")
    if not any(key in values for key in DATA_KEYS):
        return values
    if "training_set" not in values:
        raise ValueError("'validation_set' and 'test_set' need a 'training_set'")
    if "validation_set" not in values:
        raise ValueError(
            "'validation_set' is required with 'training_set' (as in metatrain): "
            "a fraction of the training set such as 0.1, or a file"
        )
    if "data" in values:
        raise ValueError(
            "give the data either as 'data' or as metatrain's 'training_set', not both"
        )
    split = dict(values.get("split") or {})
    fractions = sorted(set(split) & {"train", "val", "test"})
    if fractions:
        raise ValueError(
            f"'split.{fractions[0]}' is set by 'validation_set' and 'test_set' "
            "when the data follow metatrain's layout; keep only 'split.seed'"
        )
    result = {k: v for k, v in values.items() if k not in DATA_KEYS}
    result["data"] = dataset_section(values["training_set"], "training_set")
    val, result["validation"] = _part(
        values["validation_set"], result["data"], "validation_set"
    )
    test, result["test"] = _part(
        values.get("test_set", 0.0), result["data"], "test_set"
    )
    if val + test >= 1:
        raise ValueError(
            f"validation_set ({val}) and test_set ({test}) leave no training set"
        )
    result["split"] = {**split, "train": 1.0 - val - test, "val": val, "test": test}
    return result
