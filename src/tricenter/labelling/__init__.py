"""Labelling with DFT (PySCF) or GFN2-xTB (tblite): the methods, a resumable store
of labelled frames, and serial, local-process or Dask executors."""

import warnings

from ..datasets.shipped import read_shipped, shipped_path
from .label import (
    LabellingSummary,
    SCFNotConvergedError,
    compute_label,
    failed_path,
    label_file,
)


def default_dataset_path():
    """Deprecated: use ``tricenter.datasets.shipped_path("b8-xtb-pairs")``."""
    _deprecated("default_dataset_path()", 'shipped_path("b8-xtb-pairs")')
    return shipped_path("b8-xtb-pairs")


def read_default_dataset(index=":"):
    """Deprecated: use ``tricenter.datasets.read_shipped("b8-xtb-pairs", index)``."""
    _deprecated("read_default_dataset(index)", 'read_shipped("b8-xtb-pairs", index)')
    return read_shipped("b8-xtb-pairs", index)


def _deprecated(old, new):
    warnings.warn(
        f"`tricenter.labelling.{old}` is deprecated and will be removed in the next "
        f"release: use `tricenter.datasets.{new}`",
        DeprecationWarning,
        stacklevel=3,
    )


__all__ = [
    "LabellingSummary",
    "SCFNotConvergedError",
    "compute_label",
    "default_dataset_path",
    "failed_path",
    "label_file",
    "read_default_dataset",
]
