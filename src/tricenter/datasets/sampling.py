"""
Geometry of the degenerate families and the paper's rejection sampler.

The functions here work on whole batches of trials at once: the positions of both
partners of ``n`` pairs are one ``(n, 2, n_atoms, 3)`` array, and
:py:func:`sample` draws trials in blocks, keeps those that pass the acceptance rule
of the paper's B8 data set (:py:func:`acceptable`), and stops once it has enough.
The public generators of :py:mod:`tricenter.datasets.structures` are built on them.
"""

import numpy as np


#: sampled structures keep every centre–neighbour distance in this open interval (Å)
NEIGHBOR_DISTANCE_RANGE = (1.5, 1.8)

#: sampled structures keep every interatomic distance above this value (Å)
MIN_INTERATOMIC_DISTANCE = 1.2

# trials per block of the samplers, bounding their memory to tens of MB, and in all
_MAX_BLOCK = 100_000
_MAX_TRIALS = 20_000_000


def b8_positions(params: np.ndarray) -> np.ndarray:
    """
    Positions of both partners of B8 pairs.

    :param params: ``r, z1, z2, psi, phi1, phi2`` of each pair, ``(n, 6)``
    :return: positions ``(n, 2, 8, 3)``
    """
    r, z1, z2, psi, phi1, phi2 = params.T
    zero = np.zeros_like(phi1)
    upper = np.stack([zero, phi1, phi1 + phi2], axis=1)
    return ring_positions(params[:, :3], upper, upper + psi[:, None])


def ring_positions(
    params: np.ndarray, upper: np.ndarray, lower: np.ndarray
) -> np.ndarray:
    """
    Positions of both partners of two-ring pairs.

    :param params: ``r, z1, z2`` of each pair, ``(n, 3)``
    :param upper: azimuths of the upper ring, ``(n, n_ring)``
    :param lower: azimuths of the lower ring, ``(n, n_ring)``
    :return: positions ``(n, 2, 2 * n_ring + 2, 3)``: centre, upper ring, lower ring,
        axial atom
    """
    r, z1, z2 = params.T
    n_pairs, n_ring = upper.shape
    positions = np.zeros((n_pairs, 2, 2 * n_ring + 2, 3))
    for ring, (angles, height) in enumerate(((upper, z1), (lower, -z1))):
        atoms = slice(1 + ring * n_ring, 1 + (ring + 1) * n_ring)
        positions[:, :, atoms, 0] = (r[:, None] * np.cos(angles))[:, None]
        positions[:, :, atoms, 1] = (r[:, None] * np.sin(angles))[:, None]
        positions[:, :, atoms, 2] = height[:, None, None]
    positions[:, 0, -1, 2] = z2
    positions[:, 1, -1, 2] = -z2
    return positions


def radial_positions(distances: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """
    Positions of both partners of radial pairs.

    :param distances: centre–neighbour distances, ``(n, n_neighbors)``
    :param directions: unit directions of both partners, ``(n, 2, n_neighbors, 3)``
    :return: positions ``(n, 2, n_neighbors + 1, 3)``, centre first
    """
    n_pairs, n_neighbors = distances.shape
    positions = np.zeros((n_pairs, 2, n_neighbors + 1, 3))
    positions[:, :, 1:] = distances[:, None, :, None] * directions
    return positions


def pair_distances(positions: np.ndarray) -> np.ndarray:
    """
    All interatomic distances.

    :param positions: structures, ``(..., n_atoms, 3)``
    :return: distances, ``(..., n_atoms, n_atoms)``
    """
    return np.linalg.norm(
        positions[..., :, None, :] - positions[..., None, :, :], axis=-1
    )


def acceptable(positions: np.ndarray) -> np.ndarray:
    """
    Which structures pass the sampling rule of the paper.

    :param positions: structures with the centre first, ``(n, n_atoms, 3)``
    :return: ``(n,)`` booleans: every centre–neighbour distance lies in
        :py:data:`NEIGHBOR_DISTANCE_RANGE` and every interatomic distance exceeds
        :py:data:`MIN_INTERATOMIC_DISTANCE`
    """
    low, high = NEIGHBOR_DISTANCE_RANGE
    # the cheap centre-neighbour test first, the full distance matrix only on the
    # few survivors
    neighbors = np.linalg.norm(positions[:, 1:] - positions[:, :1], axis=-1)
    keep = np.all((neighbors > low) & (neighbors < high), axis=1)
    (survivors,) = np.nonzero(keep)
    i, j = np.triu_indices(positions.shape[1], k=1)
    distances = pair_distances(positions[survivors])[:, i, j]
    keep[survivors] = np.all(distances > MIN_INTERATOMIC_DISTANCE, axis=1)
    return keep


def sample(n_pairs: int, draw, positions_of, rate: float):
    """
    Draw trials in blocks until ``n_pairs`` are accepted.

    :param n_pairs: number of pairs to accept
    :param draw: ``draw(n_trials)`` returns a tuple of parameter arrays, one trial
        per row, consuming the random stream trial after trial
    :param positions_of: maps these arrays to the ``(n_trials, 2, n_atoms, 3)``
        positions of both partners
    :param rate: guess of the acceptance rate, to size the first block
    :return: the parameters and positions of the first ``n_pairs`` accepted trials
    :raises ValueError: if too few trials pass the rule in 20 million
    """
    accepted = []
    n_accepted = 0
    n_trials = 0
    while n_accepted < n_pairs:
        block = int(1.2 * (n_pairs - n_accepted) / rate) + 16
        block = min(block, _MAX_BLOCK)
        params = draw(block)
        positions = positions_of(*params)
        keep = acceptable(positions[:, 0]) & acceptable(positions[:, 1])
        accepted.append(tuple(p[keep] for p in params) + (positions[keep],))
        n_accepted += int(keep.sum())
        n_trials += block
        if n_accepted < n_pairs and n_trials >= _MAX_TRIALS:
            raise ValueError(
                f"only {n_accepted} of {n_pairs} pairs passed the acceptance rule "
                f"in {n_trials} trials: ask for fewer pairs or fewer atoms"
            )
        rate = max(n_accepted, 1) / n_trials
    *params, positions = (np.concatenate(a)[:n_pairs] for a in zip(*accepted))
    return tuple(params), positions


def check_overlap(positions: np.ndarray, min_distance: float):
    """
    Reject a structure whose atoms come closer than ``min_distance``.

    :param positions: one structure, ``(n_atoms, 3)``
    :param min_distance: smallest interatomic distance accepted (Å)
    :raises ValueError: naming the two closest atoms
    """
    i, j = np.triu_indices(len(positions), k=1)
    distances = pair_distances(positions)[i, j]
    closest = np.argmin(distances)
    if distances[closest] < min_distance:
        raise ValueError(
            f"atoms {i[closest]} and {j[closest]} overlap: they are "
            f"{distances[closest]:.4f} Å apart, less than min_distance={min_distance}"
        )


def check_count(value, name: str, minimum: int):
    """
    Check a count argument of the generators.

    :param value: the count given by the caller
    :param name: the argument's name, for the message
    :param minimum: the smallest count accepted
    :raises ValueError: if ``value`` is not an integer of at least ``minimum``
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
