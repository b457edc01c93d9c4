"""Shared test settings."""

import ase
import numpy as np

from tricenter import PAPER_HYPERS  # noqa: F401


HYPERS = {
    "cutoff": {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 2},
    },
}


def molecule_and_cell(seed: int) -> list:
    """A random methanol-like molecule (seeded) and a small triclinic CO cell."""
    rng = np.random.default_rng(seed)
    molecule = ase.Atoms("CH3OH", positions=1.2 * rng.normal(size=(6, 3)))
    periodic = ase.Atoms(
        "CO",
        positions=[[0.1, 0.2, 0.0], [1.2, 0.8, 0.9]],
        cell=[[2.7, 0.2, 0.0], [0.3, 2.9, 0.1], [0.1, 0.4, 3.1]],
        pbc=True,
    )
    return [molecule, periodic]
