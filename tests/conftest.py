from pathlib import Path

import pytest

from tricenter import PAPER_HYPERS  # noqa: F401


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

HYPERS = {
    "cutoff": {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 2},
    },
}


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
