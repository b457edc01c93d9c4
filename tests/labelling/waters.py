"""Small labelling inputs shared by the labelling tests."""

import ase.io
import numpy as np
from ase.build import molecule


# cheap settings: a 2-second test budget per calculation would be too much
CHEAP = {"grid_level": 0, "threads": 1, "progress": False}
METHOD = "lda/sto-3g"


def waters(n, seed=0):
    """``n`` slightly distorted water molecules."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n):
        atoms = molecule("H2O")
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.info["name"] = f"water-{index}"
        frames.append(atoms)
    return frames


def write(path, frames):
    ase.io.write(path, frames, format="extxyz")
    return path


def energies(frames):
    return {int(atoms.info["frame"]): atoms.get_potential_energy() for atoms in frames}
