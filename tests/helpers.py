"""Shared test settings."""

import os
from pathlib import Path

from tricenter import PAPER_HYPERS  # noqa: F401


#: The developers' shared data folder, outside the repository: the full labelled data
#: sets that are too large to ship. It is optional: the tests that need it skip when it
#: is absent. ``TRICENTER_SHARED_DATA`` points at it; by default it is ``shared/data``
#: next to the repository.
SHARED_DATA = Path(
    os.environ.get(
        "TRICENTER_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)

HYPERS = {
    "cutoff": {"radius": 3.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 2},
    },
}
