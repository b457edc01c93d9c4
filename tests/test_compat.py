"""Modules moved into subpackages stay importable under their old paths."""

import importlib
import sys

import pytest

from tricenter import _compat


@pytest.mark.parametrize("old, new", sorted(_compat.MOVED.items()))
def test_old_module_paths_warn_and_give_the_new_module(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"import `{new}` instead"):
        module = importlib.import_module(old)
    moved = importlib.import_module(new)
    public = [name for name in vars(moved) if not name.startswith("_")]
    assert len(public) > 0
    for name in public:
        assert getattr(module, name) is getattr(moved, name)
    sys.modules.pop(old, None)
