"""From the core's triplet tensors to a metatensor ``TensorMap``: names, property
labels, blocks and the selection of keys. TorchScript-compatible, except
:py:func:`triplet_properties` (run once, in ``__init__`` or in Python)."""

import itertools
from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from .contraction import TripletContraction


TRIPLET_SAMPLES = [
    "system",
    "center",
    "neighbor_1",
    "neighbor_2",
    "cell_shift_1_a",
    "cell_shift_1_b",
    "cell_shift_1_c",
    "cell_shift_2_a",
    "cell_shift_2_b",
    "cell_shift_2_c",
]


def triplet_keys() -> List[str]:
    """Names of the keys (a function, since TorchScript reads no global list)."""
    return [
        "o3_lambda",
        "o3_sigma",
        "center_type",
        "neighbor_1_type",
        "neighbor_2_type",
    ]


TRIPLET_KEYS = triplet_keys()
TRIPLET_PROPERTIES = ["l_1", "n_1", "l_2", "k", "l_3", "n_2", "neighbor_3_type", "n_3"]


def triplet_properties(
    contraction: TripletContraction, types: List[int]
) -> List[Labels]:
    """Property labels of each ``(lambda, sigma)`` block, in the contraction's order.

    :param contraction: the triplet contraction
    :param types: atomic types of the density channels
    """
    n_radial = contraction.n_radial
    rows_by_block: List[List[List[int]]] = [[] for _ in contraction.blocks]
    for index, group in enumerate(contraction.groups):
        rows = rows_by_block[contraction.block_of_group[index]]
        for n_1 in range(n_radial):
            for ell_1, ell_2, k, ell_3 in group.paths:
                for n_2, a_3, n_3 in itertools.product(
                    range(n_radial), types, range(n_radial)
                ):
                    rows.append([ell_1, n_1, ell_2, k, ell_3, n_2, a_3, n_3])
    return [
        Labels(TRIPLET_PROPERTIES, torch.tensor(rows, dtype=torch.int32).reshape(-1, 8))
        for rows in rows_by_block
    ]


def key_selection(selected_keys: Optional[Labels]) -> Tuple[List[int], torch.Tensor]:
    """Columns of the key names named by ``selected_keys``, and its values.

    :param selected_keys: ``Labels`` whose names are some of the key names
    :return: the column indices, and the ``(n_selected, n_names)`` values
    :raises ValueError: for a name that is not a key name
    """
    if selected_keys is None:
        return [], torch.zeros((0, 0), dtype=torch.int32)
    key_names = triplet_keys()
    columns: List[int] = []
    for name in selected_keys.names:
        if name not in key_names:
            raise ValueError(
                f"selected_keys has the name '{name}', which is not a key name: "
                f"the key names are {key_names}"
            )
        columns.append(key_names.index(name))
    return columns, selected_keys.values.to(torch.int32).cpu()


def _type_triples(n_types: int) -> List[Tuple[int, int, int]]:
    """``(a, b, c)`` type indices of the keys, in key order."""
    triples: List[Tuple[int, int, int]] = []
    for a in range(n_types):
        for b in range(n_types):
            for c in range(n_types):
                triples.append((a, b, c))
    return triples


def assemble(
    blocks: List[Tuple[int, int]],
    values: List[torch.Tensor],
    samples: torch.Tensor,
    types: torch.Tensor,
    sample_names: List[str],
    atomic_types: List[int],
    properties: List[Labels],
    invariants_only: bool,
    selected_keys: Optional[Labels],
) -> TensorMap:
    """One block per ``(lambda, sigma)`` and triplet of types; every type key is
    present (empty where no triplet matches) unless ``selected_keys`` leaves it out.

    :param blocks: ``(lambda, sigma)`` of each entry of ``values``
    :param values: ``(n_samples, 2 lambda + 1, n_properties)`` per block
    :param samples: ``(n_samples, len(sample_names))``
    :param types: ``(n_samples, 3)`` type indices of centre and both neighbours
    :param sample_names: names of the sample columns
    :param atomic_types: atomic types the type indices point into
    :param properties: property labels of each block
    :param invariants_only: drop the ``o3_mu`` component (all blocks have
        ``lambda = 0``)
    :param selected_keys: blocks to keep (some key names), or ``None`` for all
    """
    device = samples.device
    columns, selection = key_selection(selected_keys)
    keys: List[List[int]] = []
    tensor_blocks: List[TensorBlock] = []
    for block_index, (o3_lambda, o3_sigma) in enumerate(blocks):
        block_values = values[block_index]
        if invariants_only:
            block_values = block_values[:, 0]
            components: List[Labels] = []
        else:
            mu = torch.arange(-o3_lambda, o3_lambda + 1, device=device)
            components = [Labels(["o3_mu"], mu.reshape(-1, 1).to(torch.int32))]
        for a, b, c in _type_triples(len(atomic_types)):
            key = [
                o3_lambda,
                o3_sigma,
                atomic_types[a],
                atomic_types[b],
                atomic_types[c],
            ]
            if selected_keys is not None:
                picked = torch.tensor([key[i] for i in columns], dtype=torch.int32)
                if not bool(torch.any(torch.all(selection == picked, dim=1))):
                    continue
            keys.append(key)
            mask = (types[:, 0] == a) & (types[:, 1] == b) & (types[:, 2] == c)
            if bool(torch.all(mask)):
                # a single block holds everything: no copy
                kept_values = block_values
                kept_samples = samples
            else:
                kept_values = block_values[mask]
                kept_samples = samples[mask]
            tensor_blocks.append(
                TensorBlock(
                    values=kept_values,
                    samples=Labels(sample_names, kept_samples, assume_unique=True),
                    components=components,
                    properties=properties[block_index].to(device),
                )
            )
    key_values = torch.tensor(keys, dtype=torch.int32, device=device)
    return TensorMap(Labels(triplet_keys(), key_values.reshape(-1, 5)), tensor_blocks)
