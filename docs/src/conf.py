"""Sphinx configuration of the tricenter documentation."""

import os
import sys

import tricenter


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "tricenter"
author = "tricenter developers"
copyright = "2026, tricenter developers"
version = tricenter.__version__
release = tricenter.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "changelog",
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
