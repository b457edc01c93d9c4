"""
Generators of known degenerate atomic environments.

Each family is a set of pairs of structures whose central atom (index 0, at the
origin) cannot be told apart by the atom-centred density correlations of body order
``ν + 1`` up to some ``ν``, while the structures are not related by any rotation,
inversion or permutation of identical atoms:

===============================  ==================  ======================
family                           agrees up to        first differing order
===============================  ==================  ======================
:py:func:`radial_pair`           ν = 1 (distances)   ν = 2 (power spectrum)
:py:func:`power_spectrum_pair`   ν = 2 (triangles)   ν = 3 (bispectrum)
:py:func:`b8_pair`               ν = 3 (bispectrum)  ν = 4
===============================  ==================  ======================

The table counts O(3) invariants (``o3_sigma = +1``). The ``ν = 3`` pseudoscalars
(``o3_sigma = -1``) coincide as well for both ring families, whatever their species:
every ring atom has the same distance to the centre and to the ``xy`` plane, which
cancels the chiral terms that involve the axial atom.

Every function returns :py:class:`ase.Atoms` objects, the two partners of a pair
being called ``"+"`` and ``"-"``. ``atoms.info`` holds the family (``"family"``),
the pair index (``"pair"``), the partner (``"partner"``), the order ``ν`` up to
which the partners agree (``"degenerate_nu"``) and the parameters that generated
the structure, under the names of the function's arguments.

Species are chosen per group of atoms (the centre, the rings, the axial atom, ...),
see :py:data:`~tricenter.datasets.partners.Species`; the geometry and the sampler
live in :py:mod:`tricenter.datasets.sampling`.
"""

from collections.abc import Sequence

import ase
import numpy as np

from .partners import Species, make_pair, radial_symbols, ring_symbols
from .sampling import (
    MIN_INTERATOMIC_DISTANCE,
    NEIGHBOR_DISTANCE_RANGE,
    b8_positions,
    check_count,
    check_overlap,
    radial_positions,
    ring_positions,
    sample,
)


__all__ = [
    "B8_PARAMETER_RANGES",
    "B8_SEED",
    "MIN_INTERATOMIC_DISTANCE",
    "NEIGHBOR_DISTANCE_RANGE",
    "Species",
    "b8_pair",
    "b8_pairs",
    "power_spectrum_pair",
    "power_spectrum_pairs",
    "radial_pair",
    "radial_pairs",
]

#: seed of the paper's 4000 B8 pairs (``np.random.seed(12345)``)
B8_SEED = 12345

#: bounds ``(low, high)`` of the uniform draws of ``r, z1, z2, psi, phi1, phi2``
B8_PARAMETER_RANGES = (
    (0.5, 2.0),
    (0.5, 2.0),
    (1.5, 1.8),
    (0.0, np.pi),
    (np.pi / 6, np.pi),
    (np.pi / 6, np.pi),
)


def b8_pair(
    r: float,
    z1: float,
    z2: float,
    psi: float,
    phi1: float,
    phi2: float,
    *,
    species: Species = "B",
    min_distance: float = 0.5,
) -> tuple[ase.Atoms, ase.Atoms]:
    """
    Build the two partners of a bispectrum-degenerate B8 pair (paper, SM sec. IV).

    The centre sits at the origin; an upper ring of three atoms of radius ``r`` at
    height ``+z1`` has azimuths ``(0, phi1, phi1 + phi2)``; the lower ring is the
    upper ring rotated by ``psi`` about ``z``, at height ``-z1``; the axial atom sits
    at ``(0, 0, +z2)`` for the ``"+"`` partner and at ``(0, 0, -z2)`` for ``"-"``.
    Atom order: centre, upper ring, lower ring, axial atom.

    The partners share every interatomic distance and all the O(3)-invariant
    correlations of the central atom's neighbour density up to ``ν = 3``; they differ
    at ``ν = 4``. The degeneracy survives any choice of species for the three groups
    (centre, rings, axial atom). For ``psi`` a multiple of ``π`` the partners are
    mirror images of each other (``ν = 4`` agrees too, the pseudoscalars flip sign),
    hence not a genuine pair.

    :param r: radius of both rings (Å)
    :param z1: height of the upper ring (Å), positive
    :param z2: distance of the axial atom from the centre (Å), positive
    :param psi: rotation of the lower ring relative to the upper ring (rad)
    :param phi1: azimuth of the second ring atom (rad)
    :param phi2: azimuth of the third ring atom relative to the second (rad)
    :param species: one chemical symbol for all atoms, or one per group as
        ``(center, ring, axial)`` or ``{"center": ..., "ring": ..., "axial": ...}``
    :param min_distance: smallest interatomic distance (Å) accepted; closer atoms
        raise a :py:class:`ValueError`
    :return: the ``"+"`` and ``"-"`` partners

    >>> plus, minus = b8_pair(1.4, 0.6, 1.7, 2.0, 2.1, 2.0, species=("C", "B", "N"))
    >>> plus.get_chemical_formula(), plus.info["partner"], minus.info["partner"]
    ('CB6N', '+', '-')
    >>> print(plus.positions[-1], minus.positions[-1])
    [0.  0.  1.7] [ 0.   0.  -1.7]
    """
    params = np.array([r, z1, z2, psi, phi1, phi2], dtype=np.float64)
    if not np.all(np.isfinite(params)):
        raise ValueError("B8 parameters must be finite numbers")
    for name, value in zip(("r", "z1", "z2"), params[:3]):
        if value <= 0.0:
            raise ValueError(f"{name} must be positive, got {value}")
    symbols = ring_symbols(species)
    positions = b8_positions(params[None])[0]
    for atoms_positions in positions:
        check_overlap(atoms_positions, min_distance)
    info = dict(zip(("r", "z1", "z2", "psi", "phi1", "phi2"), params.tolist()))
    return make_pair(positions, symbols, "b8", 3, 0, info)


def b8_pairs(
    n_pairs: int, seed: int = B8_SEED, *, species: Species = "B"
) -> list[ase.Atoms]:
    """
    Sample B8 pairs exactly as the paper did.

    The legacy numpy generator seeded with ``seed`` draws, for every trial, ``r, z1,
    z2, psi, phi1, phi2`` from the uniform distributions of
    :py:data:`B8_PARAMETER_RANGES`, one value at a time and in that order; a trial is
    kept when every centre–neighbour distance lies in
    :py:data:`NEIGHBOR_DISTANCE_RANGE` and every interatomic distance exceeds
    :py:data:`MIN_INTERATOMIC_DISTANCE`. As both partners share all their distances,
    the rule accepts or rejects them together. With the default seed this reproduces
    the geometries of the paper's data set. The caller's global numpy random state
    is left untouched.

    :param n_pairs: number of pairs, positive
    :param seed: seed of the legacy ``numpy.random.RandomState``
    :param species: species of the groups, see :py:func:`b8_pair`
    :return: ``2 * n_pairs`` structures, the ``"+"`` partner of pair ``k`` at index
        ``2 * k`` and its ``"-"`` partner at ``2 * k + 1``

    >>> frames = b8_pairs(2)
    >>> [(f.info["pair"], f.info["partner"]) for f in frames]
    [(0, '+'), (0, '-'), (1, '+'), (1, '-')]
    >>> round(frames[0].info["r"], 6)
    1.394549
    """
    check_count(n_pairs, "n_pairs", 1)
    symbols = ring_symbols(species)
    low, high = np.array(B8_PARAMETER_RANGES).T
    # ``RandomState.uniform(low, high)`` is ``low + (high - low) * random_sample()``
    # bit for bit, and each trial consumes six doubles: drawing trials in blocks
    # gives the same sequence as the original one-value-at-a-time loop.
    rng = np.random.RandomState(seed)

    def draw(n_trials):
        return (low + (high - low) * rng.random_sample((n_trials, 6)),)

    (params,), positions = sample(n_pairs, draw, b8_positions, rate=0.07)
    frames = []
    for pair, (pair_positions, pair_params) in enumerate(zip(positions, params)):
        info = dict(zip(("r", "z1", "z2", "psi", "phi1", "phi2"), pair_params.tolist()))
        frames.extend(make_pair(pair_positions, symbols, "b8", 3, pair, info))
    return frames


def power_spectrum_pair(
    r: float,
    z1: float,
    z2: float,
    upper: Sequence[float],
    lower: Sequence[float],
    *,
    species: Species = "B",
    min_distance: float = 0.5,
) -> tuple[ase.Atoms, ase.Atoms]:
    """
    Build a pair of structures that share every interatomic distance (homometric) and
    the power spectrum of the central atom, but not its bispectrum.

    The centre sits at the origin; ``n`` ring atoms of radius ``r`` at height ``+z1``
    have the azimuths ``upper``, ``n`` more at height ``-z1`` have the azimuths
    ``lower``, and the axial atom sits at ``(0, 0, +z2)`` (``"+"``) or
    ``(0, 0, -z2)`` (``"-"``). Every triangle formed by the centre and two
    neighbours appears in both partners: the rings are common, and the axial atom
    sees ``n`` ring atoms above and ``n`` below the plane in both. Tetrahedra formed
    by the centre, the axial atom and one atom of each ring, on the other hand,
    differ, so ``ν = 3`` tells the partners apart unless ``lower`` is ``upper``
    rotated about ``z`` (which gives :py:func:`b8_pair`).

    :param r: radius of both rings (Å)
    :param z1: height of the upper ring (Å), positive
    :param z2: distance of the axial atom from the centre (Å), positive
    :param upper: azimuths (rad) of the upper ring atoms
    :param lower: azimuths (rad) of the lower ring atoms, as many as ``upper``
        and at least two
    :param species: one chemical symbol for all atoms, or one per group as
        ``(center, ring, axial)`` or ``{"center": ..., "ring": ..., "axial": ...}``
    :param min_distance: smallest interatomic distance (Å) accepted; closer atoms
        raise a :py:class:`ValueError`
    :return: the ``"+"`` and ``"-"`` partners, atoms ordered as centre, upper ring,
        lower ring, axial atom

    >>> upper, lower = [0.0, 2.0, 4.0], [1.0, 2.5, 5.0]
    >>> plus, minus = power_spectrum_pair(1.4, 0.6, 1.7, upper, lower)
    >>> len(plus), plus.info["degenerate_nu"]
    (8, 2)
    >>> d_plus = np.sort(plus.get_all_distances(), axis=None)
    >>> d_minus = np.sort(minus.get_all_distances(), axis=None)
    >>> bool(np.allclose(d_plus, d_minus))
    True
    """
    upper = np.asarray(upper, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    if upper.ndim != 1 or upper.shape != lower.shape or len(upper) < 2:
        raise ValueError(
            "upper and lower must be 1-D sequences of the same length (at least 2), "
            f"got shapes {upper.shape} and {lower.shape}"
        )
    params = np.array([r, z1, z2], dtype=np.float64)
    if not all(np.all(np.isfinite(value)) for value in (params, upper, lower)):
        raise ValueError("ring parameters must be finite numbers")
    for name, value in zip(("r", "z1", "z2"), params):
        if value <= 0.0:
            raise ValueError(f"{name} must be positive, got {value}")
    symbols = ring_symbols(species, n_ring=len(upper))
    positions = ring_positions(params[None], upper[None], lower[None])[0]
    for atoms_positions in positions:
        check_overlap(atoms_positions, min_distance)
    info = {"r": float(r), "z1": float(z1), "z2": float(z2)}
    info.update({"upper": upper.copy(), "lower": lower.copy()})
    return make_pair(positions, symbols, "power_spectrum", 2, 0, info)


def power_spectrum_pairs(
    n_pairs: int, seed: int = B8_SEED, *, n_ring: int = 3, species: Species = "B"
) -> list[ase.Atoms]:
    """
    Sample random pairs of :py:func:`power_spectrum_pair`.

    ``r, z1, z2`` are drawn as in :py:func:`b8_pairs`; the first upper azimuth is 0
    (it fixes the orientation), the other ``2 * n_ring - 1`` azimuths are uniform in
    ``[0, 2π)``. Trials are kept with the acceptance rule of :py:func:`b8_pairs`. The
    draws come from ``numpy.random.default_rng(seed)``, the global random state is
    left untouched.

    :param n_pairs: number of pairs, positive
    :param seed: seed of the random generator
    :param n_ring: number of atoms in each ring, at least 2
    :param species: species of the groups, see :py:func:`power_spectrum_pair`
    :return: ``2 * n_pairs`` structures, ``"+"`` partner of pair ``k`` at index
        ``2 * k``, ``"-"`` partner at ``2 * k + 1``

    >>> frames = power_spectrum_pairs(3, n_ring=2)
    >>> len(frames), len(frames[0]), frames[5].info["pair"], frames[5].info["partner"]
    (6, 6, 2, '-')
    """
    check_count(n_pairs, "n_pairs", 1)
    check_count(n_ring, "n_ring", 2)
    symbols = ring_symbols(species, n_ring=n_ring)
    low, high = np.array(B8_PARAMETER_RANGES[:3]).T
    rng = np.random.default_rng(seed)

    def draw(n_trials):
        params = rng.uniform(low, high, size=(n_trials, 3))
        angles = rng.uniform(0.0, 2 * np.pi, size=(n_trials, 2 * n_ring))
        angles[:, 0] = 0.0
        return params, angles[:, :n_ring], angles[:, n_ring:]

    (params, upper, lower), positions = sample(n_pairs, draw, ring_positions, rate=0.01)
    frames = []
    for pair in range(n_pairs):
        info = dict(zip(("r", "z1", "z2"), params[pair].tolist()))
        info.update({"upper": upper[pair], "lower": lower[pair]})
        frames.extend(
            make_pair(positions[pair], symbols, "power_spectrum", 2, pair, info)
        )
    return frames


def radial_pair(
    distances: Sequence[float],
    directions_plus,
    directions_minus,
    *,
    species: Species = "B",
    min_distance: float = 0.5,
) -> tuple[ase.Atoms, ase.Atoms]:
    """
    Build two environments with the same list of centre–neighbour distances and
    different directions (paper, Fig. 1b).

    Neighbour ``j`` sits at ``distances[j] * directions[j] / |directions[j]|`` around
    the centre at the origin. Both partners share the radial distribution of the
    central atom (``ν = 1``); their power spectra (``ν = 2``) differ unless the two
    sets of directions are related by a rotation or an inversion.

    :param distances: centre–neighbour distances (Å), positive, shape ``(n,)``
    :param directions_plus: neighbour directions of the ``"+"`` partner, shape
        ``(n, 3)``, any non-zero length
    :param directions_minus: neighbour directions of the ``"-"`` partner, shape
        ``(n, 3)``
    :param species: one chemical symbol for all atoms, or one per group as
        ``(center, neighbor)`` or ``{"center": ..., "neighbor": ...}``
    :param min_distance: smallest interatomic distance (Å) accepted; closer atoms
        raise a :py:class:`ValueError`
    :return: the ``"+"`` and ``"-"`` partners, centre first

    >>> plus, minus = radial_pair(
    ...     [1.5, 1.5, 1.5],
    ...     [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    ...     [[1, 0, 0], [-1, 0, 0], [0, 1, 0]],
    ... )
    >>> print(plus.get_distances(0, [1, 2, 3]), minus.get_distances(0, [1, 2, 3]))
    [1.5 1.5 1.5] [1.5 1.5 1.5]
    """
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 1 or len(distances) < 1:
        raise ValueError(
            f"distances must be a non-empty 1-D sequence, got shape {distances.shape}"
        )
    if not np.all(np.isfinite(distances)) or np.any(distances <= 0.0):
        raise ValueError("distances must be positive finite numbers")
    directions = []
    for name, value in (("plus", directions_plus), ("minus", directions_minus)):
        value = np.asarray(value, dtype=np.float64)
        if value.shape != (len(distances), 3):
            raise ValueError(
                f"directions_{name} must have shape ({len(distances)}, 3), "
                f"got {value.shape}"
            )
        norms = np.linalg.norm(value, axis=1)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0.0):
            raise ValueError(f"directions_{name} must be finite and non-zero")
        directions.append(value / norms[:, None])
    symbols = radial_symbols(species, len(distances))
    positions = np.zeros((2, len(distances) + 1, 3))
    positions[:, 1:] = distances[None, :, None] * np.stack(directions)
    for atoms_positions in positions:
        check_overlap(atoms_positions, min_distance)
    info = {"distances": distances.copy()}
    plus, minus = make_pair(positions, symbols, "radial", 1, 0, info)
    plus.info["directions"] = directions[0]
    minus.info["directions"] = directions[1]
    return plus, minus


def radial_pairs(
    n_pairs: int, seed: int = B8_SEED, *, n_neighbors: int = 4, species: Species = "B"
) -> list[ase.Atoms]:
    """
    Sample random pairs of :py:func:`radial_pair`.

    Distances are uniform in :py:data:`NEIGHBOR_DISTANCE_RANGE`, the directions of
    both partners uniform on the sphere; trials are kept when every interatomic
    distance of both partners exceeds :py:data:`MIN_INTERATOMIC_DISTANCE`. The draws
    come from ``numpy.random.default_rng(seed)``, the global random state is left
    untouched.

    :param n_pairs: number of pairs, positive
    :param seed: seed of the random generator
    :param n_neighbors: number of neighbours, at least 2
    :param species: species of the groups, see :py:func:`radial_pair`
    :return: ``2 * n_pairs`` structures, ``"+"`` partner of pair ``k`` at index
        ``2 * k``, ``"-"`` partner at ``2 * k + 1``

    >>> frames = radial_pairs(2, n_neighbors=3, species=("C", "H"))
    >>> [f.get_chemical_formula() for f in frames]
    ['CH3', 'CH3', 'CH3', 'CH3']
    """
    check_count(n_pairs, "n_pairs", 1)
    check_count(n_neighbors, "n_neighbors", 2)
    symbols = radial_symbols(species, n_neighbors)
    rng = np.random.default_rng(seed)

    def draw(n_trials):
        distances = rng.uniform(*NEIGHBOR_DISTANCE_RANGE, size=(n_trials, n_neighbors))
        directions = rng.normal(size=(n_trials, 2, n_neighbors, 3))
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
        return distances, directions

    (distances, directions), positions = sample(
        n_pairs, draw, radial_positions, rate=0.1
    )
    frames = []
    for pair in range(n_pairs):
        info = {"distances": distances[pair]}
        plus, minus = make_pair(positions[pair], symbols, "radial", 1, pair, info)
        plus.info["directions"] = directions[pair, 0]
        minus.info["directions"] = directions[pair, 1]
        frames.extend((plus, minus))
    return frames
