"""Metadata and capabilities of exported models: names, references, outputs, and
the notice of a model trained on some atoms' energies only."""

import copy
import json
import re
import warnings
from typing import Dict, List, Optional

import torch
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
)

from .. import __version__
from .wrapper import MetatomicEnergyModel


#: version of the layout of exported files; :py:func:`load` refuses other versions
EXPORT_FORMAT = "1"

PAPER = (
    "J. Nigam, S. N. Pozdnyakov, K. K. Huguenin-Dumittan, M. Ceriotti, "
    '"Completeness of atomic structure representations", APL Mach. Learn. 2, 016110 '
    "(2024), https://doi.org/10.1063/5.0160740, arXiv:2302.14770"
)

#: references stored in the metadata of every exported model
REFERENCES: Dict[str, List[str]] = {
    "architecture": [PAPER],
    "implementation": ["tricenter: complete three-centre (triplet) models"],
}

#: the default name: metatomic presents a model as "the {name} model"
DEFAULT_NAME = "tricenter triplet energy"

_DEFAULT_DESCRIPTION = (
    "Complete three-centre (triplet) energy model: per-atom energies "
    "E_i = eps(xi(A_i)), with xi(A_i) a sum of a non-linear function over ordered "
    "pairs of neighbours (j, j') of atom i."
)


def atomistic_model(
    model: torch.nn.Module,
    *,
    dtype: torch.dtype = torch.float64,
    name: str = DEFAULT_NAME,
    description: str = "",
    authors: Optional[List[str]] = None,
    trained_atoms: Optional[List[int]] = None,
) -> AtomisticModel:
    """Wrap a tricenter energy model in a :py:class:`metatomic.torch.AtomisticModel`.

    The model is copied, converted to ``dtype`` and put in evaluation mode; the
    original is left untouched.

    :param model: a tricenter energy model (see :py:class:`MetatomicEnergyModel`)
    :param dtype: ``torch.float64`` or ``torch.float32``, the dtype engines must use
    :param name: name stored in the metadata (metatomic presents the model as "the
        {name} model", so a trailing "model" is dropped)
    :param description: description stored in the metadata
    :param authors: authors stored in the metadata
    :param trained_atoms: the atoms whose energies the model was trained on (``None``:
        all, the total energy); the description then says that only their per-atom
        energies are meaningful, and :py:func:`warnings.warn` says it now
    """
    dtype_name = {torch.float64: "float64", torch.float32: "float32"}.get(dtype)
    if dtype_name is None:
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    model = copy.deepcopy(model).to(dtype=dtype).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    wrapper = MetatomicEnergyModel(model)

    name = re.sub(r"\s+model\s*$", "", name.strip(), flags=re.IGNORECASE)
    if description == "":
        description = _DEFAULT_DESCRIPTION
    extra = {
        "tricenter-version": __version__,
        "tricenter-export-format": EXPORT_FORMAT,
        "cutoff": str(wrapper.cutoff),
    }
    if trained_atoms is not None:
        notice = trained_atoms_notice(trained_atoms)
        description = f"{notice}\n\n{description}"
        extra["trained-atoms"] = json.dumps([int(atom) for atom in trained_atoms])
        warnings.warn(notice, UserWarning, stacklevel=2)
    metadata = ModelMetadata(
        name=name,
        description=description,
        authors=[] if authors is None else list(authors),
        references=REFERENCES,
        extra=extra,
    )
    capabilities = ModelCapabilities(
        outputs={
            "energy": ModelOutput(
                unit="eV",
                sample_kind="atom",
                description="potential energy, or its decomposition on atoms",
            ),
            "feature": ModelOutput(
                sample_kind="atom",
                description="latent triplet summary xi of each atom (Eq. 2 of the "
                "paper), summed over atoms per system",
            ),
        },
        atomic_types=wrapper.atomic_types,
        interaction_range=wrapper.cutoff,
        length_unit="angstrom",
        supported_devices=["cpu", "cuda"],
        dtype=dtype_name,
    )
    return AtomisticModel(wrapper.eval(), metadata, capabilities)


def trained_atoms_notice(trained_atoms: List[int]) -> str:
    """What a model trained on the energies of ``trained_atoms`` means, in words.

    :param trained_atoms: indices of the atoms whose energies the model learnt
    """
    atoms = ", ".join(str(int(atom)) for atom in trained_atoms)
    plural = "s" if len(trained_atoms) > 1 else ""
    return (
        f"This model was trained on the energy of atom{plural} {atoms} of each "
        f"structure only: use the per-atom energy of atom{plural} {atoms} (ASE: "
        f"get_potential_energies(), metatomic: energy with sample_kind='atom'). The "
        "total energy that engines report (ASE get_potential_energy(), LAMMPS pe) "
        "sums every atom's energy: it is not a quantity the model learnt, and "
        "neither are the forces an engine derives from it."
    )
