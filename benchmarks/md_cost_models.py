"""Models and structures of ``md_cost.py``: the tricenter factories, metatrain's
SOAP-BPNN and PET built untrained and exported as ``mtt train`` does, a rattled
diamond silicon cell and a box of liquid-like water.

A tricenter factory is ``factory(atomic_types, cutoff, dtype, **basis) ->
torch.nn.Module`` with the tricenter energy-model interface (what
:py:func:`tricenter.export.export` takes); ``basis`` holds ``max_angular`` and
``max_radial`` when they are given on the command line. Register one in
:py:data:`TRICENTER`, or name any importable one as ``package.module:function``.
"""

import copy
import importlib
from pathlib import Path
from typing import Callable, Dict, List

import ase
import ase.build
import numpy as np
import torch


def _hypers(cutoff: float, max_angular: int, max_radial: int) -> dict:
    """The potential's default hypers (Gaussian and ShiftedCosine widths 0.5 Å),
    with the density cutoff and the basis set."""
    from tricenter.models.potential import POTENTIAL_HYPERS

    hypers = copy.deepcopy(POTENTIAL_HYPERS)
    hypers["cutoff"]["radius"] = cutoff
    hypers["frame_cutoff"]["radius"] = min(hypers["frame_cutoff"]["radius"], cutoff)
    hypers["basis"]["max_angular"] = max_angular
    hypers["basis"]["radial"]["max_radial"] = max_radial
    return hypers


def triplet_energy(
    atomic_types: List[int],
    cutoff: float,
    dtype: torch.dtype,
    max_angular: int = 3,
    max_radial: int = 5,
) -> torch.nn.Module:
    """An untrained :py:class:`tricenter.models.TripletEnergyModel`: latent 128,
    ``encoder_hidden=[128, 128]``, Gaussian and ShiftedCosine widths 0.5 Å."""
    from tricenter.models import TripletEnergyModel

    hypers = _hypers(cutoff, max_angular, max_radial)
    del hypers["frame_cutoff"]
    torch.manual_seed(0)
    model = TripletEnergyModel(
        hypers, atomic_types, latent=128, encoder_hidden=[128, 128]
    )
    return model.to(dtype)


def potential(
    atomic_types: List[int],
    cutoff: float,
    dtype: torch.dtype,
    max_angular: int = 3,
    max_radial: int = 5,
) -> torch.nn.Module:
    """An untrained :py:class:`tricenter.models.TripletPotential` at its default
    hyper-parameters (frame radius 3.0 Å), with the density cutoff set to
    ``cutoff``."""
    from tricenter.models import TripletPotential

    torch.manual_seed(0)
    return TripletPotential(_hypers(cutoff, max_angular, max_radial), atomic_types).to(
        dtype
    )


#: tricenter potentials that ``--tricenter`` can name
TRICENTER: Dict[str, Callable[..., torch.nn.Module]] = {
    "triplet-energy": triplet_energy,
    "potential": potential,
}


def tricenter_factory(name: str) -> Callable[..., torch.nn.Module]:
    """The factory registered as ``name``, or the function ``package.module:function``.

    :param name: a key of :py:data:`TRICENTER` or ``package.module:function``
    """
    if name in TRICENTER:
        return TRICENTER[name]
    if ":" not in name:
        raise ValueError(
            f"unknown tricenter model '{name}': choose one of {sorted(TRICENTER)} "
            "or give an importable factory as package.module:function"
        )
    module, function = name.split(":", 1)
    return getattr(importlib.import_module(module), function)


def export_tricenter(name, atomic_types, cutoff, dtype, path: Path, basis) -> Path:
    """Build the tricenter model ``name`` and export it with
    :py:func:`tricenter.export.export`."""
    import tricenter.export

    model = tricenter_factory(name)(atomic_types, cutoff, dtype, **basis)
    tricenter.export.export(model, path, dtype=dtype, name=f"tricenter {name}")
    return path


#: metatrain architectures that the benchmark compares against
METATRAIN = ("soap_bpnn", "pet")


def metatrain_hypers(architecture: str, cutoff: float, dtype: torch.dtype) -> dict:
    """Default model hyper-parameters of a metatrain architecture, with the cutoff
    set to ``cutoff``."""
    from metatrain.utils.architectures import get_default_hypers

    precision = 64 if dtype == torch.float64 else 32
    hypers = get_default_hypers(architecture, precision)["model"]
    if architecture == "soap_bpnn":
        hypers["soap"]["cutoff"]["radius"] = cutoff
    else:
        hypers["cutoff"] = cutoff
    return hypers


def export_metatrain(architecture, atomic_types, cutoff, dtype, path: Path) -> Path:
    """Build an untrained metatrain model (one energy target, in eV) and save it as
    ``mtt train`` does: ``model.export()``, then ``save`` with its compiled
    extensions collected in an ``extensions`` folder next to ``path``."""
    from metatrain.utils.architectures import import_architecture
    from metatrain.utils.data import DatasetInfo
    from metatrain.utils.data.target_info import get_energy_target_info

    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=list(atomic_types),
        targets={"energy": get_energy_target_info("energy", {"unit": "eV"})},
    )
    hypers = metatrain_hypers(architecture, cutoff, dtype)
    torch.manual_seed(0)
    model = import_architecture(architecture).__model__(hypers, info).to(dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.export().save(str(path), collect_extensions=str(path.parent / "extensions"))
    return path


def silicon(repeat: int, seed: int = 0) -> ase.Atoms:
    """Diamond silicon, ``repeat``³ cubic cells (``8 repeat³`` atoms), rattled by
    0.05 Å."""
    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True).repeat(repeat)
    atoms.rattle(0.05, seed=seed)
    return atoms


# O-H 0.9572 Å, H-O-H 104.52°
_WATER = np.array([[0.0, 0.0, 0.0], [0.7572, 0.5865, 0.0], [-0.7572, 0.5865, 0.0]])


def water_box(
    n_molecules: int,
    seed: int = 0,
    density: float = 1.0,
    min_distance: float = 1.6,
    min_oxygen_distance: float = 2.5,
) -> ase.Atoms:
    """A cubic periodic box of water at ``density`` g/cm³: molecules at random
    positions and orientations, each rattled by 0.05 Å, placed one after the other
    so that atoms of different molecules are at least ``min_distance`` apart and
    oxygens at least ``min_oxygen_distance``.

    :param n_molecules: number of molecules
    :param seed: seed of the random placement
    :param density: mass density, in g/cm³
    :param min_distance: closest approach of atoms of different molecules, in Å
    :param min_oxygen_distance: closest approach of two oxygens, in Å
    """
    rng = np.random.default_rng(seed)
    # 1 g/cm³ = 0.602214 amu/Å³
    length = (n_molecules * 18.015 / (0.602214 * density)) ** (1 / 3)
    placed = np.zeros((0, 3))
    for _ in range(n_molecules):
        for _attempt in range(100_000):
            rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            molecule = _WATER @ rotation.T + 0.05 * rng.normal(size=(3, 3))
            molecule += rng.uniform(0, length, size=3)
            delta = molecule[:, None, :] - placed[None, :, :]
            delta -= length * np.round(delta / length)
            distances = np.linalg.norm(delta, axis=-1)
            oxygens = distances[0, 0::3]
            if distances.size == 0 or (
                distances.min() >= min_distance and oxygens.min() >= min_oxygen_distance
            ):
                placed = np.concatenate([placed, molecule])
                break
        else:
            raise ValueError(
                f"could not place {n_molecules} water molecules at {density} g/cm³ "
                f"with intermolecular distances >= {min_distance} Å"
            )
    return ase.Atoms("OH2" * n_molecules, positions=placed, cell=[length] * 3, pbc=True)
