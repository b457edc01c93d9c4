"""The pair expansion and the neighbour density as featomic-style TensorMaps.

These back :py:meth:`TripletFeatures.compute_pair_expansion
<tricenter.features.calculator.TripletFeatures.compute_pair_expansion>` and
:py:meth:`~tricenter.features.calculator.TripletFeatures.compute_density`; their
names follow featomic's ``SphericalExpansionByPair`` and ``SphericalExpansion``.
"""

from typing import List

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from .core import TripletCore
from .neighbors import Pairs


def _by_angular(
    entries, max_angular: int, sample_names: List[str], key_names: List[str]
) -> TensorMap:
    """One block per ``(l, key)`` from ``(key, values, samples)`` entries, with
    ``values`` of shape ``(n_samples, n_lm, n_properties)``."""
    blocks, keys = [], []
    for row, values, samples in entries:
        n = torch.arange(values.shape[-1], dtype=torch.int32).reshape(-1, 1)
        for ell in range(max_angular + 1):
            mu = torch.arange(-ell, ell + 1, dtype=torch.int32).reshape(-1, 1)
            keys.append([ell, 1] + row)
            blocks.append(
                TensorBlock(
                    values=values[:, ell**2 : (ell + 1) ** 2],
                    samples=Labels(sample_names, samples.to(torch.int32)),
                    components=[Labels(["o3_mu"], mu)],
                    properties=Labels(["n"], n),
                )
            )
    keys = Labels(key_names, torch.tensor(keys, dtype=torch.int32))
    return TensorMap(keys, blocks)


def pair_expansion_map(core: TripletCore, pairs: Pairs, types: List[int]) -> TensorMap:
    """The single-neighbour expansion :math:`\\langle nlm | \\rho_{ij} \\rangle`.

    Keys ``o3_lambda, o3_sigma, first_atom_type, second_atom_type``, samples
    ``system, first_atom, second_atom, cell_shift_a, cell_shift_b, cell_shift_c``,
    components ``o3_mu``, properties ``n`` (featomic's ``SphericalExpansionByPair``
    without its ``i == i`` self pairs).

    :param core: the expansion
    :param pairs: centres and pairs
    :param types: atomic types of the keys
    """
    values = core.expansion.pair_expansion(pairs.vectors)
    samples = torch.cat(
        [
            pairs.centers[pairs.pair_center],
            pairs.neighbors.unsqueeze(1),
            pairs.cell_shifts,
        ],
        dim=1,
    )
    first_types = pairs.center_types[pairs.pair_center]
    entries = []
    for a in types:
        for b in types:
            mask = (first_types == a) & (pairs.neighbor_types == b)
            entries.append(([a, b], values[mask], samples[mask]))
    names = ["system", "first_atom", "second_atom"]
    names += ["cell_shift_a", "cell_shift_b", "cell_shift_c"]
    key_names = ["o3_lambda", "o3_sigma", "first_atom_type", "second_atom_type"]
    return _by_angular(entries, core.expansion.max_angular, names, key_names)


def density_map(core: TripletCore, pairs: Pairs, types: List[int]) -> TensorMap:
    """The neighbour density :math:`\\langle a n l m | \\rho_i \\rangle`.

    Keys ``o3_lambda, o3_sigma, center_type, neighbor_type``, samples ``system,
    atom``, components ``o3_mu``, properties ``n`` (featomic's
    ``SphericalExpansion``).

    :param core: the expansion
    :param pairs: centres and pairs
    :param types: atomic types of the keys and density channels
    """
    expansions = core(pairs, torch.tensor(types, device=pairs.vectors.device))
    n_centers, n_lm = expansions.density.shape[:2]
    density = expansions.density.reshape(n_centers, n_lm, len(types), -1)
    entries = []
    for a in types:
        mask = pairs.center_types == a
        for index, b in enumerate(types):
            entries.append(([a, b], density[mask, :, index], pairs.centers[mask]))
    key_names = ["o3_lambda", "o3_sigma", "center_type", "neighbor_type"]
    return _by_angular(
        entries, core.expansion.max_angular, ["system", "atom"], key_names
    )
