"""
The partners of a generated pair as :py:class:`ase.Atoms`.

Species are chosen per group of atoms (the centre, the rings, the axial atom, ...):
a :py:data:`Species` is either one chemical symbol used for every atom, a sequence
with one symbol per group, or a mapping from the group names to symbols.
:py:func:`make_pair` wraps the positions of both partners into structures that carry
the family, the pair index, the partner and the generating parameters in ``info``.
"""

from collections.abc import Mapping, Sequence

import ase
import numpy as np
from ase.data import chemical_symbols


#: one chemical symbol for every atom, one per group of atoms, or a mapping from
#: the group names to symbols
Species = str | Sequence[str] | Mapping[str, str]

#: groups of atoms of the ring families (B8 and power-spectrum pairs)
RING_GROUPS = ("center", "ring", "axial")

#: groups of atoms of the radial family
RADIAL_GROUPS = ("center", "neighbor")


def group_species(species: Species, groups: tuple[str, ...]) -> dict[str, str]:
    """
    Map each group name to a validated chemical symbol.

    :param species: one symbol, one symbol per group, or a mapping from the groups
    :param groups: names of the groups, in order
    :raises ValueError: for a wrong number of groups or an unknown symbol
    """
    if isinstance(species, str):
        species = {group: species for group in groups}
    elif isinstance(species, Mapping):
        if set(species) != set(groups):
            raise ValueError(
                f"species mapping must have exactly the keys {groups}, "
                f"got {tuple(species)}"
            )
    elif isinstance(species, Sequence) and len(species) == len(groups):
        species = dict(zip(groups, species))
    else:
        raise ValueError(
            "species must be a chemical symbol, a sequence of "
            f"{len(groups)} symbols {groups} or a mapping with these keys, "
            f"got {species!r}"
        )
    for group, symbol in species.items():
        if not isinstance(symbol, str) or symbol not in chemical_symbols[1:]:
            raise ValueError(f"unknown chemical symbol {symbol!r} for the {group}")
    return species


def ring_symbols(species: Species, n_ring: int = 3) -> list[str]:
    """Symbols of the centre, both rings of ``n_ring`` atoms and the axial atom."""
    species = group_species(species, RING_GROUPS)
    return [species["center"]] + [species["ring"]] * (2 * n_ring) + [species["axial"]]


def radial_symbols(species: Species, n_neighbors: int) -> list[str]:
    """Symbols of the centre and its ``n_neighbors`` neighbours."""
    species = group_species(species, RADIAL_GROUPS)
    return [species["center"]] + [species["neighbor"]] * n_neighbors


def make_pair(
    positions: np.ndarray,
    symbols: list[str],
    family: str,
    degenerate_nu: int,
    pair: int,
    parameters: dict,
) -> tuple[ase.Atoms, ase.Atoms]:
    """
    Wrap the positions of both partners into the ``"+"`` and ``"-"`` structures.

    :param positions: positions of both partners, ``(2, n_atoms, 3)``
    :param symbols: chemical symbols of the atoms
    :param family: name of the family, stored as ``info["family"]``
    :param degenerate_nu: order ``ν`` up to which the partners agree
    :param pair: index of the pair
    :param parameters: the generating parameters, copied into ``info``
    """
    frames = []
    for partner, partner_positions in zip("+-", positions):
        atoms = ase.Atoms(symbols=symbols, positions=partner_positions)
        atoms.info.update(
            family=family, pair=pair, partner=partner, degenerate_nu=degenerate_nu
        )
        # arrays are copied so that the partners never share mutable state
        atoms.info.update(
            {
                name: value.copy() if isinstance(value, np.ndarray) else value
                for name, value in parameters.items()
            }
        )
        frames.append(atoms)
    return frames[0], frames[1]
