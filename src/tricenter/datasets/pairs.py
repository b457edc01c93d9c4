"""Degenerate pairs in the units and fields users expect.

The paper's PBE file stores what the authors' code wrote: the energy in Hartree
(``energy_ha``), the gradient ``dE/dR`` in Hartree/Bohr (``gradient_habohr``, not
forces) and the frame index (``label``). :py:func:`pbe_pairs` converts such frames,
and :py:func:`read_pairs` gives either shipped data set in the same form:

- ``info["target"]``: the energy relative to the B8 minimum, in eV;
- ``get_potential_energy()``: the total energy in eV, ``get_forces()`` the forces
  in eV/Å;
- ``info["frame"]``, ``info["pair"]`` and ``info["partner"]`` (``"+"`` or ``"-"``):
  frame ``2k`` is pair ``k``'s '+' structure, frame ``2k + 1`` its '-' partner.

>>> plus, minus = read_pairs("b8-pbe-pairs", ":2")
>>> plus.info["pair"], plus.info["partner"], minus.info["partner"]
(0, '+', '-')
>>> round(plus.info["target"], 4), plus.get_forces().shape
(12.7489, (8, 3))
"""

import ase
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from .shipped import read_shipped


#: eV per Hartree and Å per Bohr (CODATA 2018)
HARTREE_EV = 27.211386245988
BOHR_ANGSTROM = 0.529177210903
#: PBE/cc-pVDZ energy (Hartree) of the minimum-energy B8 structure (a planar centred
#: heptagon) in the paper's data archive: the reference of the PBE targets
PBE_REFERENCE_HA = -198.27291671238572


def pbe_pairs(frames, reference_ha: float = PBE_REFERENCE_HA) -> list:
    """Frames of the paper's PBE file in eV and eV/Å, with their pair and partner.

    :param frames: frames with ``info["energy_ha"]`` (Hartree),
        ``info["label"]`` (frame index) and ``arrays["gradient_habohr"]``
        (``dE/dR`` in Hartree/Bohr, ``(n_atoms, 3)``)
    :param reference_ha: energy of the reference structure, in Hartree
    :return: new frames with ``info["target"] = E - E_ref`` (eV), ``frame``,
        ``pair``, ``partner``, ``energy_ha`` and ``reference_energy_ha``, and a
        calculator that gives the total energy (eV) and the forces
        ``-dE/dR`` (eV/Å)
    :raises ValueError: if a frame lacks one of these fields
    """
    converted = []
    for position, frame in enumerate(frames):
        missing = [key for key in ("energy_ha", "label") if key not in frame.info]
        if "gradient_habohr" not in frame.arrays:
            missing.append("gradient_habohr")
        if missing:
            raise ValueError(
                f"frame {position} is not in the PBE pairs format: it has no "
                f"{', '.join(missing)}"
            )
        index = int(frame.info["label"])
        energy_ha = float(frame.info["energy_ha"])
        atoms = ase.Atoms(
            numbers=frame.numbers,
            positions=frame.positions,
            cell=frame.cell,
            pbc=frame.pbc,
        )
        atoms.info.update(
            frame=index,
            pair=index // 2,
            partner="+-"[index % 2],
            target=(energy_ha - reference_ha) * HARTREE_EV,
            energy_ha=energy_ha,
            reference_energy_ha=float(reference_ha),
        )
        forces = -np.asarray(frame.arrays["gradient_habohr"]) * (
            HARTREE_EV / BOHR_ANGSTROM
        )
        atoms.calc = SinglePointCalculator(
            atoms, energy=energy_ha * HARTREE_EV, forces=forces
        )
        converted.append(atoms)
    return converted


def read_pairs(name: str, index=":") -> list:
    """Frames of a shipped data set of pairs, in eV and eV/Å (see the module).

    :param name: ``"b8-pbe-pairs"`` or ``"b8-xtb-pairs"``
    :param index: which frames, as for :py:func:`ase.io.read`
    :return: a list of :py:class:`ase.Atoms`
    """
    frames = read_shipped(name, index)
    if name == "b8-pbe-pairs":
        return pbe_pairs(frames)
    return frames
