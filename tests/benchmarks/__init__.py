"""Tests of the scripts in ``benchmarks/``."""

import importlib
import sys
from pathlib import Path


#: the folder of the benchmark scripts
SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def script(name: str):
    """Import the module ``benchmarks/{name}.py``."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))
