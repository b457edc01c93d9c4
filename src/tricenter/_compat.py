"""Old module paths, kept importable with a deprecation warning.

The package was flat before it was split into subpackages; code that imports a module
by its old path (``tricenter.structures``, ``tricenter.calculator``, ...) gets the
module at its new path and a :py:class:`DeprecationWarning` that names it.
"""

import importlib
import importlib.machinery
import sys
import warnings


MOVED = {
    "tricenter.calculator": "tricenter.features.calculator",
    "tricenter.cg": "tricenter.features.cg",
    "tricenter.expansion": "tricenter.features.expansion",
    "tricenter.harmonics": "tricenter.features.harmonics",
    "tricenter.hypers": "tricenter.features.hypers",
    "tricenter.neighbors": "tricenter.features.neighbors",
    "tricenter.radial": "tricenter.features.radial",
    "tricenter.triplets": "tricenter.features.contraction",
    "tricenter.structures": "tricenter.datasets.structures",
    "tricenter.training": "tricenter.train",
    "tricenter.reproduce": "tricenter.paper.table1",
    "tricenter.demo": "tricenter.paper.demo",
}


# A finder and loader by protocol only: subclassing importlib.abc, or calling
# importlib.util, would import importlib.resources and pathlib on every
# ``import tricenter``, which doubles its import time.
class _MovedModules:
    def find_spec(self, fullname, path, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        new = MOVED[module.__name__]
        warnings.warn(
            f"`{module.__name__}` is deprecated: import `{new}` instead",
            DeprecationWarning,
            stacklevel=2,
        )
        moved = importlib.import_module(new)
        module.__dict__.update(
            (name, value)
            for name, value in vars(moved).items()
            if not name.startswith("__")
        )


def install():
    """Make the old module paths importable (once per interpreter)."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
