"""Small labelled B8 data sets and configurations shared by the training tests."""

import numpy as np

from tricenter.datasets.structures import b8_pairs

from ..helpers import HYPERS


def write_pairs(path, n_pairs=6, forces=False, energy=True):
    """Write ``n_pairs`` B8 pairs with a made-up energy (and random forces)."""
    import ase.io

    frames = b8_pairs(n_pairs)
    rng = np.random.default_rng(0)
    for frame in frames:
        distances = frame.get_all_distances()[0, 1:]
        if energy:
            frame.info["energy"] = float(np.sum((distances - 1.6) ** 2)) + 0.01 * float(
                rng.normal()
            )
        if forces:
            frame.arrays["forces"] = rng.normal(size=(len(frame), 3))
    ase.io.write(path, frames, format="extxyz")
    return frames


def small_config(tmp_path, **training):
    """A quick configuration training on ``tmp_path / "pairs.xyz"``."""
    small = {key: dict(value) for key, value in HYPERS.items()}
    small["cutoff"] = {
        "radius": 2.0,
        "smoothing": {"type": "ShiftedCosine", "width": 0.3},
    }
    return {
        "data": {
            "path": str(tmp_path / "pairs.xyz"),
            "pair_key": "pair",
            "selected_atoms": [0],
        },
        "model": {
            "hypers": small,
            "latent": 4,
            "encoder_hidden": [8],
            "head_hidden": [],
        },
        "split": {"train": 0.5, "val": 0.25, "test": 0.25, "seed": 3},
        "training": {"epochs": 2, "batch_size": 2, "progress": False, **training},
        "output": str(tmp_path / "out"),
        "resume": False,
    }
