from importlib.util import find_spec

import pytest

from tricenter.labelling.label import MethodError, parse_method


pyscf = pytest.mark.skipif(
    find_spec("pyscf") is None, reason="PySCF methods need PySCF (tricenter[dft])"
)


@pyscf
def test_parse_method_defaults_are_the_paper_settings():
    method = parse_method("PBE/cc-pVDZ")
    assert method.name == "pbe/cc-pvdz"
    assert method.backend == "pyscf"
    assert (method.xc, method.basis) == ("pbe", "cc-pvdz")
    assert method.smearing == 0.01
    assert method.smearing_method == "fermi"
    assert method.grid_level == 5
    assert method.init_guess == "minao"
    assert parse_method(method, grid_level=3).grid_level == 3


@pytest.mark.parametrize(
    "name, settings, match",
    [
        ("foo", {}, "unknown method 'foo'"),
        ("pbe/cc-pvdz/x", {}, "unknown method"),
        pytest.param(
            "nonsense/sto-3g",
            {},
            "unknown exchange-correlation functional 'nonsense'",
            marks=pyscf,
        ),
        pytest.param(
            "lda/not-a-basis", {}, "unknown basis set 'not-a-basis'", marks=pyscf
        ),
        ("gfn2-xtb", {"grid_level": 3}, "grid_level do not apply to the tblite"),
        pytest.param(
            "lda/sto-3g", {"smearing": -1.0}, "smearing must be >= 0", marks=pyscf
        ),
        pytest.param(
            "lda/sto-3g", {"max_cycle": 0}, "max_cycle must be >= 1", marks=pyscf
        ),
    ],
)
def test_bad_methods(name, settings, match):
    with pytest.raises(MethodError, match=match):
        parse_method(name, **settings)
