"""Pairs of B8 structures: reading them with their targets, and seeded splits.

Frames come ordered ``+`` then ``−`` for each pair, so that rows ``2k`` and
``2k + 1`` are the partners of pair ``k`` everywhere in :py:mod:`tricenter.paper`.
"""

from typing import Dict

import numpy as np

from ..datasets import PBE_REFERENCE_HA, read_extxyz
from ..train.config import ENERGY_UNITS


def load_pairs(path) -> tuple:
    """Frames ordered ``+`` then ``−`` per pair, targets in eV and pair labels.

    Understands the paper's PBE file (``energy_ha``, frames ``2k`` / ``2k + 1``,
    shipped as ``tricenter.datasets.shipped_path("b8-pbe-pairs")``) and the
    package's GFN2-xTB file (``pair``, ``partner``, ``target`` in eV).

    :param path: extended XYZ file, gzip-compressed or not
    :return: ``(frames, targets, pairs)``, the last two ``(n_frames,)`` arrays
    """
    frames = read_extxyz(path)
    if all("energy_ha" in f.info for f in frames):
        if len(frames) % 2:
            raise ValueError(f"'{path}' has an odd number of frames, not pairs")
        targets = [
            (f.info["energy_ha"] - PBE_REFERENCE_HA) * ENERGY_UNITS["Ha"]
            for f in frames
        ]
        return frames, np.asarray(targets), np.arange(len(frames)) // 2
    if all("target" in f.info and "pair" in f.info for f in frames):
        by_pair: Dict[int, dict] = {}
        for frame in frames:
            by_pair.setdefault(int(frame.info["pair"]), {})[
                str(frame.info.get("partner", len(by_pair)))
            ] = frame
        ordered = []
        for pair in sorted(by_pair):
            partners = by_pair[pair]
            if len(partners) != 2:
                continue
            keys = sorted(partners, key=lambda k: k not in ("+", "plus"))
            ordered.extend(partners[k] for k in keys)
        targets = [float(f.info["target"]) for f in ordered]
        return ordered, np.asarray(targets), np.arange(len(ordered)) // 2
    raise ValueError(
        f"'{path}' has neither 'energy_ha' (PBE pairs) nor 'pair' and 'target' "
        "(tricenter pairs) in every frame"
    )


def split_pairs(
    n_pairs: int, n_train: int, n_val: int, n_test: int, seed: int
) -> Dict[str, np.ndarray]:
    """Seeded choice of disjoint test, validation and training pairs.

    :param n_pairs: number of pairs to choose from
    :param n_train: training pairs (fewer when the data runs out)
    :param n_val: validation pairs
    :param n_test: test pairs
    :param seed: seed of the permutation
    :return: sorted pair indices of ``"train"``, ``"val"`` and ``"test"``

    >>> split = split_pairs(10, 4, 2, 3, seed=0)
    >>> [len(split[part]) for part in ("train", "val", "test")]
    [4, 2, 3]
    """
    needed = n_test + n_val + 2
    if n_pairs < needed:
        raise ValueError(f"the data has {n_pairs} pairs, this run needs >= {needed}")
    order = np.random.default_rng(seed).permutation(n_pairs)
    return {
        "test": np.sort(order[:n_test]),
        "val": np.sort(order[n_test : n_test + n_val]),
        "train": np.sort(order[n_test + n_val : n_test + n_val + n_train]),
    }


def frames_of(pairs: np.ndarray) -> np.ndarray:
    """Frame indices ``2k, 2k + 1`` of pairs ``k``, partners next to each other.

    >>> frames_of(np.array([0, 3])).tolist()
    [0, 1, 6, 7]
    """
    return np.stack([2 * pairs, 2 * pairs + 1], axis=1).reshape(-1)


__all__ = ["PBE_REFERENCE_HA", "frames_of", "load_pairs", "split_pairs"]
