import copy
import doctest

import numpy as np
import pytest

from tricenter import PAPER_HYPERS
from tricenter.datasets import read_shipped, sampling, structures
from tricenter.datasets.structures import (
    b8_pair,
    b8_pairs,
    power_spectrum_pair,
    power_spectrum_pairs,
    radial_pair,
    radial_pairs,
)


HYPERS = PAPER_HYPERS
# a coarser radial basis is enough to show that ν = 4 differs, and keeps the
# products small
HYPERS_NU4 = copy.deepcopy(HYPERS)
HYPERS_NU4["basis"]["radial"]["max_radial"] = 1

SAME = 1e-10
DIFFERENT = 1e-4


def _b8_reference_loop(n_pairs, seed):
    """The paper's sampler, one scalar draw at a time (legacy generator)."""
    rng = np.random.RandomState(seed)
    accepted = []
    while len(accepted) < n_pairs:
        params = [
            rng.uniform(0.5, 2),
            rng.uniform(0.5, 2),
            rng.uniform(1.5, 1.8),
            rng.uniform(0, np.pi),
            rng.uniform(np.pi / 6, np.pi),
            rng.uniform(np.pi / 6, np.pi),
        ]
        r, z1, z2, psi, phi1, phi2 = params
        azimuths = np.array([0, phi1, phi1 + phi2])
        positions = [[0.0, 0.0, 0.0]]
        for shift, height in ((0.0, z1), (psi, -z1)):
            for angle in azimuths + shift:
                positions.append([r * np.cos(angle), r * np.sin(angle), height])
        positions.append([0.0, 0.0, z2])
        positions = np.array(positions)
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        if not np.all((distances[0, 1:] > 1.5) & (distances[0, 1:] < 1.8)):
            continue
        if np.all(distances[np.triu_indices(8, k=1)] > 1.2):
            accepted.append(params)
    return np.array(accepted)


def _invariants(frames, nu, sigma=1, hypers=HYPERS):
    """
    λ = 0 invariants of correlation order ``nu`` of atom 0, all neighbour species
    correlated together, ``(n_frames, n_features)``.
    """
    featomic = pytest.importorskip("featomic")
    from featomic.clebsch_gordan import DensityCorrelations
    from metatensor import Labels

    center = Labels(["atom"], np.array([[0]]))
    if nu == 1:
        radial_hypers = dict(hypers, basis={"radial": hypers["basis"]["radial"]})
        calculator = featomic.SoapRadialSpectrum(**radial_hypers)
        tensor = calculator.compute(frames, selected_samples=center)
        tensor = tensor.keys_to_properties("neighbor_type")
    elif nu == 2:
        calculator = featomic.SoapPowerSpectrum(**hypers)
        tensor = calculator.compute(frames, selected_samples=center)
        tensor = tensor.keys_to_properties(["neighbor_1_type", "neighbor_2_type"])
    else:
        calculator = featomic.SphericalExpansion(**hypers)
        density = calculator.compute(frames, selected_samples=center)
        density = density.keys_to_properties("neighbor_type")
        max_angular = hypers["basis"]["max_angular"]
        correlations = DensityCorrelations(
            n_correlations=nu - 1, max_angular=max_angular
        )
        tensor = correlations.compute(
            density,
            angular_cutoff=max_angular,
            selected_keys=Labels(["o3_lambda"], np.array([[0]])),
        )
    values = []
    for key, block in tensor.items():
        if "o3_sigma" in key.names and key["o3_sigma"] != sigma:
            continue
        if len(block.samples) == 0:
            # blocks of the centre types that atom 0 does not have
            continue
        assert block.samples.column("atom").tolist() == [0] * len(frames)
        values.append(block.values.reshape(len(frames), -1))
    return np.concatenate(values, axis=1)


def _relative_differences(frames, nu, sigma=1, hypers=HYPERS):
    """|x+ - x-| / max(|x+|, |x-|) for every pair of ``frames``."""
    values = _invariants(frames, nu, sigma, hypers)
    plus, minus = values[0::2], values[1::2]
    norm = np.maximum(np.linalg.norm(plus, axis=1), np.linalg.norm(minus, axis=1))
    assert np.all(norm > 0)
    return np.linalg.norm(plus - minus, axis=1) / norm


def _sorted_distances(atoms):
    return np.sort(atoms.get_all_distances(), axis=None)


def _assert_pairs(frames, n_pairs, family):
    assert len(frames) == 2 * n_pairs
    for index, atoms in enumerate(frames):
        assert atoms.info["family"] == family
        assert atoms.info["pair"] == index // 2
        assert atoms.info["partner"] == "+-"[index % 2]
        assert np.all(atoms.positions[0] == 0.0)
        assert not np.any(atoms.pbc)


# B8 pairs, bispectrum-degenerate


def test_b8_pairs_reproduce_archive():
    archive = read_shipped("b8-pbe-pairs")
    frames = b8_pairs(1500, seed=12345)
    _assert_pairs(frames, 1500, "b8")
    assert len(archive) == len(frames)
    expected = np.array([atoms.positions for atoms in archive])
    actual = np.array([atoms.positions for atoms in frames])
    # the archive stores positions with 8 decimals
    assert np.abs(actual - expected).max() <= 1e-8
    assert all(atoms.get_chemical_formula() == "B8" for atoms in frames)


def test_b8_pairs_match_scalar_sampler():
    frames = b8_pairs(50, seed=7)
    names = ("r", "z1", "z2", "psi", "phi1", "phi2")
    params = np.array([[atoms.info[name] for name in names] for atoms in frames])
    np.testing.assert_array_equal(params[0::2], params[1::2])
    np.testing.assert_array_equal(params[0::2], _b8_reference_loop(50, seed=7))


def test_b8_pairs_acceptance():
    frames = b8_pairs(200)
    for atoms in frames:
        distances = atoms.get_all_distances()
        assert np.all(distances[0, 1:] > 1.5) and np.all(distances[0, 1:] < 1.8)
        assert np.all(distances[np.triu_indices(8, k=1)] > 1.2)
    for plus, minus in zip(frames[0::2], frames[1::2]):
        np.testing.assert_allclose(
            _sorted_distances(plus), _sorted_distances(minus), rtol=0, atol=1e-12
        )


def test_b8_pairs_keep_global_random_state():
    np.random.seed(0)
    expected = np.random.uniform(size=5)
    np.random.seed(0)
    b8_pairs(3)
    power_spectrum_pairs(3)
    radial_pairs(3)
    np.testing.assert_array_equal(np.random.uniform(size=5), expected)


def test_b8_pair_construction():
    r, z1, z2, psi, phi1, phi2 = 1.4, 0.6, 1.7, 2.0, 2.1, 2.0
    plus, minus = b8_pair(r, z1, z2, psi, phi1, phi2, species=("C", "B", "N"))
    assert plus.get_chemical_symbols() == ["C"] + ["B"] * 6 + ["N"]
    assert minus.get_chemical_symbols() == plus.get_chemical_symbols()
    azimuths = np.array([0.0, phi1, phi1 + phi2])
    for atoms, sign in ((plus, 1), (minus, -1)):
        positions = atoms.positions
        np.testing.assert_array_equal(positions[0], [0, 0, 0])
        np.testing.assert_allclose(np.linalg.norm(positions[1:7, :2], axis=1), r)
        np.testing.assert_allclose(positions[1:4, 2], z1)
        np.testing.assert_allclose(positions[4:7, 2], -z1)
        upper = np.arctan2(positions[1:4, 1], positions[1:4, 0])
        lower = np.arctan2(positions[4:7, 1], positions[4:7, 0])
        np.testing.assert_allclose(np.exp(1j * upper), np.exp(1j * azimuths))
        np.testing.assert_allclose(np.exp(1j * lower), np.exp(1j * (azimuths + psi)))
        np.testing.assert_array_equal(positions[7], [0, 0, sign * z2])
        assert atoms.info["psi"] == psi and atoms.info["z2"] == z2
    # the partners share their distances as multisets, not atom by atom
    np.testing.assert_allclose(
        _sorted_distances(plus), _sorted_distances(minus), rtol=0, atol=1e-12
    )
    assert not np.allclose(plus.get_all_distances(), minus.get_all_distances())


def test_b8_species_arguments():
    for species in ("C", ["C"] * 3, {"center": "C", "ring": "C", "axial": "C"}):
        plus, _ = b8_pair(1.4, 0.6, 1.7, 2.0, 2.1, 2.0, species=species)
        assert plus.get_chemical_formula() == "C8"
    frames = b8_pairs(2, species={"center": "C", "ring": "B", "axial": "N"})
    assert [atoms.get_chemical_formula() for atoms in frames] == ["CB6N"] * 4


def test_b8_degenerate_up_to_bispectrum():
    frames = b8_pairs(5)
    for nu in (1, 2, 3):
        assert np.all(_relative_differences(frames, nu) <= SAME)
    # the pseudoscalar bispectrum agrees as well
    assert np.all(_relative_differences(frames, 3, sigma=-1) <= SAME)
    assert np.all(_relative_differences(frames, 4, hypers=HYPERS_NU4) > DIFFERENT)


def test_b8_decorated_degenerate_up_to_bispectrum():
    frames = b8_pairs(3, species=("C", "B", "N"))
    for nu in (2, 3):
        assert np.all(_relative_differences(frames, nu) <= SAME)
    # the pseudoscalars agree too. Some σ = -1 channels, e.g. (l1, l2, l3) = (1, 1,
    # 1), vanish by symmetry (all ring atoms share the same radial functions); their
    # round-off (~1e-18) has random signs and, compared channel by channel, can look
    # like a sign flip between the partners.
    assert np.all(_relative_differences(frames, 3, sigma=-1) <= SAME)
    assert np.all(_relative_differences(frames, 4, hypers=HYPERS_NU4) > DIFFERENT)


@pytest.mark.parametrize("psi", [0.0, np.pi])
def test_b8_pair_mirror_limit(psi):
    # psi = 0 or π makes the partners mirror images: every O(3) invariant agrees,
    # the pseudoscalars flip sign (at ν = 3 they vanish: the rings are achiral)
    frames = list(b8_pair(1.0, 1.2, 1.7, psi, 2.1, 2.0))
    assert np.all(_relative_differences(frames, 4, hypers=HYPERS_NU4) <= SAME)
    flipped = _relative_differences(frames, 4, sigma=-1, hypers=HYPERS_NU4)
    np.testing.assert_allclose(flipped, 2.0, rtol=1e-8)


# power-spectrum-degenerate (homometric) pairs


def test_power_spectrum_pair_construction():
    upper, lower = [0.0, 2.0, 4.0], [1.0, 2.5, 5.0]
    plus, minus = power_spectrum_pair(1.4, 0.6, 1.7, upper, lower)
    assert len(plus) == 8
    np.testing.assert_array_equal(plus.positions[:7], minus.positions[:7])
    np.testing.assert_array_equal(plus.positions[7], [0, 0, 1.7])
    np.testing.assert_array_equal(minus.positions[7], [0, 0, -1.7])
    np.testing.assert_allclose(
        _sorted_distances(plus), _sorted_distances(minus), rtol=0, atol=1e-12
    )
    # a lower ring that is the upper ring rotated gives the B8 pair
    psi, phi1, phi2 = 2.0, 2.1, 2.0
    azimuths = np.array([0.0, phi1, phi1 + phi2])
    ring = power_spectrum_pair(1.4, 0.6, 1.7, azimuths, azimuths + psi)
    b8 = b8_pair(1.4, 0.6, 1.7, psi, phi1, phi2)
    for ring_atoms, b8_atoms in zip(ring, b8):
        np.testing.assert_allclose(ring_atoms.positions, b8_atoms.positions, atol=0)


def test_power_spectrum_pairs_sampling():
    frames = power_spectrum_pairs(20, n_ring=2, species=("C", "B", "N"))
    _assert_pairs(frames, 20, "power_spectrum")
    for plus, minus in zip(frames[0::2], frames[1::2]):
        assert plus.get_chemical_symbols() == ["C"] + ["B"] * 4 + ["N"]
        np.testing.assert_allclose(
            _sorted_distances(plus), _sorted_distances(minus), rtol=0, atol=1e-12
        )
        np.testing.assert_array_equal(plus.info["upper"], minus.info["upper"])
        assert plus.info["upper"][0] == 0.0
        assert plus.info["upper"] is not minus.info["upper"]
        distances = plus.get_all_distances()
        assert np.all((distances[0, 1:] > 1.5) & (distances[0, 1:] < 1.8))
        assert np.all(distances[np.triu_indices(len(plus), k=1)] > 1.2)
    again = power_spectrum_pairs(20, n_ring=2, species=("C", "B", "N"))
    np.testing.assert_array_equal(frames[-1].positions, again[-1].positions)
    other = power_spectrum_pairs(20, seed=1, n_ring=2)
    assert not np.allclose(frames[-1].positions, other[-1].positions)


@pytest.mark.parametrize("n_ring, species", [(3, "B"), (2, "B"), (3, ("C", "B", "N"))])
def test_power_spectrum_degenerate_up_to_power_spectrum(n_ring, species):
    frames = power_spectrum_pairs(5, n_ring=n_ring, species=species)
    for nu in (1, 2):
        assert np.all(_relative_differences(frames, nu) <= SAME)
    assert np.all(_relative_differences(frames, 3) > DIFFERENT)
    # the chiral terms involving the axial atom cancel (see the module docstring)
    assert np.all(_relative_differences(frames, 3, sigma=-1) <= SAME)


# radial (list-of-distances) pairs


def test_radial_pair_construction():
    distances = [1.5, 1.6, 1.7]
    plus, minus = radial_pair(
        distances, [[2, 0, 0], [0, 3, 0], [0, 0, 1]], [[1, 0, 0], [-1, 0, 0], [0, 1, 0]]
    )
    np.testing.assert_allclose(plus.get_distances(0, [1, 2, 3]), distances)
    np.testing.assert_allclose(minus.get_distances(0, [1, 2, 3]), distances)
    np.testing.assert_allclose(plus.positions[1], [1.5, 0, 0])
    np.testing.assert_allclose(minus.positions[2], [-1.6, 0, 0])
    np.testing.assert_allclose(np.linalg.norm(plus.info["directions"], axis=1), 1.0)


@pytest.mark.parametrize("species", ["B", ("C", "H")])
def test_radial_degenerate_up_to_distances(species):
    frames = radial_pairs(5, species=species)
    _assert_pairs(frames, 5, "radial")
    for plus, minus in zip(frames[0::2], frames[1::2]):
        np.testing.assert_allclose(
            np.sort(plus.get_distances(0, range(1, 5))),
            np.sort(minus.get_distances(0, range(1, 5))),
        )
    assert np.all(_relative_differences(frames, 1) <= SAME)
    assert np.all(_relative_differences(frames, 2) > DIFFERENT)


# bad inputs


@pytest.mark.parametrize("generator", [b8_pairs, power_spectrum_pairs, radial_pairs])
@pytest.mark.parametrize(
    "n_pairs, match",
    [
        (0, "n_pairs must be at least 1"),
        (-3, "n_pairs must be at least 1"),
        (2.5, "n_pairs must be an integer"),
    ],
)
def test_bad_n_pairs(generator, n_pairs, match):
    with pytest.raises(ValueError, match=match):
        generator(n_pairs)


@pytest.mark.parametrize(
    "species, match",
    [
        ("Xx", "unknown chemical symbol 'Xx'"),
        (("C", "B", "Q"), "unknown chemical symbol 'Q' for the axial"),
        (("C", "B"), "sequence of 3 symbols"),
        ({"center": "C", "rings": "B", "axial": "N"}, "exactly the keys"),
        (5, "must be a chemical symbol"),
    ],
)
def test_bad_species(species, match):
    with pytest.raises(ValueError, match=match):
        b8_pair(1.4, 0.6, 1.7, 2.0, 2.1, 2.0, species=species)
    with pytest.raises(ValueError, match=match):
        b8_pairs(1, species=species)


def test_bad_b8_parameters():
    with pytest.raises(ValueError, match="overlap"):
        # z1 = 0.1 puts each upper atom 0.2 Å above its lower copy when psi = 0
        b8_pair(1.4, 0.1, 1.7, 0.0, 2.1, 2.0)
    with pytest.raises(ValueError, match="atoms 1 and 2 overlap"):
        b8_pair(1.4, 0.6, 1.7, 2.0, 0.0, 2.0)
    with pytest.raises(ValueError, match="r must be positive"):
        b8_pair(-1.4, 0.6, 1.7, 2.0, 2.1, 2.0)
    with pytest.raises(ValueError, match="z2 must be positive"):
        b8_pair(1.4, 0.6, 0.0, 2.0, 2.1, 2.0)
    with pytest.raises(ValueError, match="finite"):
        b8_pair(1.4, np.nan, 1.7, 2.0, 2.1, 2.0)


def test_bad_power_spectrum_parameters():
    with pytest.raises(ValueError, match="same length"):
        power_spectrum_pair(1.4, 0.6, 1.7, [0.0, 2.0, 4.0], [1.0, 2.5])
    with pytest.raises(ValueError, match="at least 2"):
        power_spectrum_pair(1.4, 0.6, 1.7, [0.0], [1.0])
    with pytest.raises(ValueError, match="overlap"):
        power_spectrum_pair(1.4, 0.6, 1.7, [0.0, 0.1], [1.0, 2.5])
    with pytest.raises(ValueError, match="z1 must be positive"):
        power_spectrum_pair(1.4, -0.6, 1.7, [0.0, 2.0], [1.0, 2.5])
    with pytest.raises(ValueError, match="n_ring must be at least 2"):
        power_spectrum_pairs(2, n_ring=1)


def test_bad_radial_parameters():
    directions = [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="positive"):
        radial_pair([1.5, -1.5], directions, directions)
    with pytest.raises(ValueError, match=r"directions_minus must have shape \(2, 3\)"):
        radial_pair([1.5, 1.5], directions, [[1, 0, 0]])
    with pytest.raises(ValueError, match="non-zero"):
        radial_pair([1.5, 1.5], directions, [[1, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="overlap"):
        radial_pair([1.5, 1.5], directions, [[1, 0, 0], [1, 0.01, 0]])
    with pytest.raises(ValueError, match="n_neighbors must be at least 2"):
        radial_pairs(2, n_neighbors=1)


def test_docstring_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = []
    for test in finder.find(structures):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries >= 5


def test_sampler_gives_up(monkeypatch):
    # 30 neighbours 1.5-1.8 Å from the centre cannot all be 1.2 Å apart
    monkeypatch.setattr(sampling, "_MAX_TRIALS", 1000)
    with pytest.raises(ValueError, match="only 0 of 2 pairs passed"):
        radial_pairs(2, n_neighbors=30)
