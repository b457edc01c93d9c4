"""Export tricenter energy models as metatomic models, for MD engines.

An exported file is a TorchScript :py:class:`metatomic.torch.AtomisticModel`: ASE
(``metatomic-ase``), LAMMPS (``pair_style metatomic``), i-PI, TorchSim and metatrain's
``mtt eval`` load it without tricenter installed. It declares

- ``energy`` (eV), per system or per atom, whose gradients give forces and stress;
- ``feature``, the latent :math:`\\xi_q(A_i) = \\sum_{jj'} \\phi_q(T_{ijj'})` of each
  atom (summed over atoms when asked per system), e.g. for chemiscope maps;
- one full neighbour list with the model's cutoff, and ``interaction_range`` equal to
  that cutoff (per-atom energies only depend on neighbours within it);
- ``selected_atoms``, honoured: engines that add ghost atoms (LAMMPS) get energies of
  the selected atoms only.

The whole model is plain TorchScript (the harmonics of
:py:mod:`tricenter.features.harmonics` included): an exported file needs no compiled
extension, and autograd gives forces, stress and their derivatives wherever it runs.

A model trained on the energies of some atoms only (the B8 benchmark learns atom 0's)
still declares ``energy``, so that engines can run it; its description says which
atoms the energies mean something for, and exporting it warns that an engine's total
energy (a sum over all atoms) is not the trained quantity.

The modules: :py:mod:`.wrapper` (what engines run), :py:mod:`.metadata` (names,
references, outputs), :py:mod:`.files` (writing and reading model files) and
:py:mod:`.command` (``tricenter export``).

>>> import tricenter.export
>>> sorted(tricenter.export.REFERENCES)
['architecture', 'implementation']
"""

from .command import add_cli_arguments, run_cli, trained_atoms
from .files import (
    ENGINE_OPERATORS,
    ModelFileError,
    compiled_operators,
    export,
    load,
    load_checkpoint,
)
from .metadata import (
    DEFAULT_NAME,
    EXPORT_FORMAT,
    PAPER,
    REFERENCES,
    atomistic_model,
    trained_atoms_notice,
)
from .wrapper import MetatomicEnergyModel


__all__ = [
    "DEFAULT_NAME",
    "ENGINE_OPERATORS",
    "EXPORT_FORMAT",
    "PAPER",
    "REFERENCES",
    "MetatomicEnergyModel",
    "ModelFileError",
    "add_cli_arguments",
    "atomistic_model",
    "compiled_operators",
    "export",
    "load",
    "load_checkpoint",
    "run_cli",
    "trained_atoms",
    "trained_atoms_notice",
]
