"""Sphinx configuration of the tricenter documentation."""

import os
import sys

import tricenter


def _name_torchscript_classes():
    """Show TorchScript classes under their Python names in signatures.

    metatensor's ``Labels``, ``TensorMap`` or metatomic's ``System`` are TorchScript
    class objects rather than Python types, so autodoc would print type hints that use
    them as ``<torch.ScriptClass object at 0x...>``.
    """
    import metatensor.torch
    import metatomic.torch
    import torch

    names = {}
    # metatensor.torch is an alias of `metatensor_torch`: spell the public name
    for prefix, module in [
        ("metatensor.torch", metatensor.torch),
        ("metatomic.torch", metatomic.torch),
    ]:
        for name, value in vars(module).items():
            if isinstance(value, torch.ScriptClass):
                names[id(value)] = f"{prefix}.{name}"

    default = torch.ScriptClass.__repr__
    torch.ScriptClass.__repr__ = lambda self: names.get(id(self), default(self))


_name_torchscript_classes()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "tricenter"
author = "tricenter developers"
copyright = "2026, tricenter developers"
version = tricenter.__version__
release = tricenter.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "changelog",
    "results_tables",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples/*.ipynb"]

# keep the documented signatures readable: types live in the `:param:` fields
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}

# every example is executed while the docs build, so they cannot rot
sphinx_gallery_conf = {
    "examples_dirs": [os.path.join(ROOT, "examples")],
    "gallery_dirs": ["examples"],
    "filename_pattern": ".*",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 60,
}

html_theme = "furo"
html_title = f"tricenter {release}"
html_static_path = []
