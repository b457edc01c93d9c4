"""Labelling with DFT (PySCF) or GFN2-xTB (tblite): the methods, a resumable store
of labelled frames, and serial, local-process or Dask executors."""

from .label import (
    LabellingSummary,
    SCFNotConvergedError,
    compute_label,
    default_dataset_path,
    failed_path,
    label_file,
    read_default_dataset,
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
