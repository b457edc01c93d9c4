"""Python-side preparation of :py:meth:`TripletFeatures.compute
<tricenter.features.calculator.TripletFeatures.compute>`.

ASE atoms or metatomic systems become :py:class:`~.neighbors.Pairs` (ASE atoms
through the vesin fast path), centres are grouped into chunks of bounded size, and a
computation where no centre has a neighbour is reported. Nothing here is TorchScript.
"""

import warnings
from typing import List, NamedTuple, Tuple

import ase.geometry
import numpy as np
import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions

from .neighbors import (
    Pairs,
    gather_pairs,
    is_ase_atoms,
    pairs_from_atoms,
    systems_with_neighbors,
)


def torch_labels(labels):
    """metatensor-torch ``Labels`` from metatensor-core or metatensor-torch ones
    (``None`` stays ``None``)."""
    if labels is None or isinstance(labels.values, torch.Tensor):
        return labels
    values = torch.tensor(labels.values.tolist(), dtype=torch.int32)
    return Labels(list(labels.names), values.reshape(-1, len(labels.names)))


def prepare_pairs(
    systems, selected_samples, options: NeighborListOptions
) -> Tuple[list, Pairs, List[int]]:
    """Pairs of ASE atoms or metatomic systems.

    :param systems: an ``ase.Atoms``, a metatomic ``System`` or a list of them
    :param selected_samples: centres to keep, or ``None``
    :param options: the full neighbour list of the features
    :return: the systems as a list, their pairs, and the sorted atomic types present
    """
    if not isinstance(systems, (list, tuple)):
        systems = [systems]
    selected_samples = torch_labels(selected_samples)
    if all(is_ase_atoms(system) for system in systems):
        pairs = pairs_from_atoms(systems, options.cutoff, selected_samples)
        present = {int(t) for atoms in systems for t in set(atoms.numbers)}
    else:
        systems = systems_with_neighbors(systems, options.cutoff)
        pairs = gather_pairs(systems, options, selected_samples)
        present = {int(t) for system in systems for t in system.types.tolist()}
    return list(systems), pairs, sorted(present)


def _shortest_distance(systems) -> float:
    """Shortest distance between two distinct atoms (minimum image), ``inf`` when
    no system has two atoms."""
    shortest = float("inf")
    for system in systems:
        if is_ase_atoms(system):
            positions, cell, pbc = system.positions, system.cell[:], system.pbc
        else:
            positions = system.positions.detach().cpu().numpy()
            cell = system.cell.detach().cpu().numpy()
            pbc = system.pbc.cpu().numpy()
        if len(positions) < 2:
            continue
        _, distances = ase.geometry.get_distances(positions, cell=cell, pbc=pbc)
        distances = distances[~np.eye(len(positions), dtype=bool)]
        shortest = min(shortest, float(distances.min()))
    return shortest


def warn_if_no_neighbors(systems, pairs: Pairs, cutoff: float):
    """Warn when there are centres but none has a neighbour within the cutoff: the
    triplet features are then empty.

    :param systems: the systems of ``pairs``
    :param pairs: their centres and pairs
    :param cutoff: the neighbour cutoff, in Å
    """
    if pairs.centers.shape[0] == 0 or pairs.vectors.shape[0] != 0:
        return
    shortest = _shortest_distance(systems)
    if shortest == float("inf"):
        detail = "no system has two atoms"
    else:
        detail = f"the shortest interatomic distance is {shortest:.3g} Å"
    warnings.warn(
        f"no centre has a neighbour within the cutoff of {cutoff:g} Å ({detail}): "
        "the triplet features are empty; use a larger cutoff radius",
        UserWarning,
        stacklevel=3,
    )


class Chunk(NamedTuple):
    """Consecutive centres whose triplets are computed together."""

    #: the chunk's centres and pairs, centre indices starting at 0
    pairs: Pairs
    #: the chunk's rows in the full triplet output
    rows: slice


def center_chunks(pairs: Pairs, max_triplets: int) -> Tuple[int, List[Chunk]]:
    """Split centres into chunks of at most ``max_triplets`` triplets (a centre with
    more triplets makes a chunk of its own).

    :param pairs: centres and pairs, sorted by centre
    :param max_triplets: largest number of triplets of a chunk
    :return: the total number of triplets, and the chunks in order
    """
    n_centers = pairs.centers.shape[0]
    counts = torch.bincount(pairs.pair_center, minlength=n_centers).cpu()
    triplets = counts * counts
    triplet_ends = torch.cumsum(triplets, 0)
    pair_ends = torch.cumsum(counts, 0)
    chunks = []
    first = 0
    # one step per chunk: the chunk ends at the last centre whose triplets still
    # fit, found by bisection
    while first < n_centers:
        start = int(triplet_ends[first] - triplets[first])
        limit = torch.tensor(start + max(max_triplets, 1))
        last = max(int(torch.searchsorted(triplet_ends, limit, right=True)), first + 1)
        pair_start = int(pair_ends[first] - counts[first])
        pair_stop = int(pair_ends[last - 1])
        chunk_pairs = Pairs(
            pairs.centers[first:last],
            pairs.center_types[first:last],
            pairs.vectors[pair_start:pair_stop],
            pairs.pair_center[pair_start:pair_stop] - first,
            pairs.neighbors[pair_start:pair_stop],
            pairs.neighbor_types[pair_start:pair_stop],
            pairs.cell_shifts[pair_start:pair_stop],
        )
        chunks.append(Chunk(chunk_pairs, slice(start, int(triplet_ends[last - 1]))))
        first = last
    return int(triplets.sum()), chunks
