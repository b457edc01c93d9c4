"""TripletFeatures: symmetries, gradients, TorchScript, dtypes, devices, bad input."""

import ase
import metatensor.torch as mts
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from tricenter import TripletFeatures
from tricenter.features.harmonics import SphericalHarmonics
from tricenter.features.neighbors import systems_with_neighbors

from ..helpers import HYPERS


@pytest.fixture(scope="module")
def calculator():
    return TripletFeatures(**HYPERS, atomic_types=[1, 6, 8])


@pytest.fixture(scope="module")
def equivariant():
    return TripletFeatures(**HYPERS, atomic_types=[1, 6, 8], o3_lambdas=[0, 1, 2])


def _molecule(seed=0):
    rng = np.random.default_rng(seed)
    return ase.Atoms("CH3OH", positions=1.2 * rng.normal(size=(6, 3)))


def _periodic():
    return ase.Atoms(
        "CO",
        positions=[[0.1, 0.2, 0.0], [1.2, 0.8, 0.9]],
        cell=[[2.7, 0.2, 0.0], [0.3, 2.9, 0.1], [0.1, 0.4, 3.1]],
        pbc=True,
    )


def _by_sample(tensor):
    """{(key, sample): values} for comparisons independent of sample order."""
    result = {}
    for key, block in tensor.items():
        key = tuple(key.values.tolist())
        for sample, value in zip(block.samples.values.tolist(), block.values):
            result[(key, tuple(sample))] = value.detach()
    return result


def _sorted_blocks(tensor):
    """{key: (samples, values)} with samples in lexicographic order."""
    result = {}
    for key, block in tensor.items():
        samples = block.samples.values
        order = np.lexsort(samples.numpy().T[::-1])
        result[tuple(key.values.tolist())] = (samples[order], block.values[order])
    return result


def _wigner_d(rotation, ell):
    """Wigner D of the real harmonics, fitted on random points."""
    calculator = SphericalHarmonics(ell)
    points = torch.from_numpy(np.random.default_rng(3).normal(size=(50, 3)))
    before = calculator(points)[:, ell**2 :]
    after = calculator(points @ torch.from_numpy(rotation).T)[:, ell**2 :]
    return torch.linalg.lstsq(before, after).solution.T


@pytest.mark.parametrize("structure", [_molecule, _periodic])
def test_rotation_inversion_translation(equivariant, structure):
    atoms = structure()
    rotation = Rotation.random(random_state=7).as_matrix()

    rotated = atoms.copy()
    rotated.positions = atoms.positions @ rotation.T + np.array([0.3, -1.2, 2.0])
    if atoms.pbc.any():
        rotated.cell = atoms.cell[:] @ rotation.T
    inverted = atoms.copy()
    inverted.positions = -atoms.positions
    if atoms.pbc.any():
        inverted.cell = -atoms.cell[:]

    rotated = _sorted_blocks(equivariant.compute(rotated))
    inverted = _sorted_blocks(equivariant.compute(inverted))
    reference = _sorted_blocks(equivariant.compute(atoms))
    assert rotated.keys() == reference.keys() == inverted.keys()
    wigner = {ell: _wigner_d(rotation, ell) for ell in range(3)}
    n_pseudo = 0
    for key, (samples, values) in reference.items():
        o3_lambda, o3_sigma = key[0], key[1]
        assert torch.equal(rotated[key][0], samples)
        assert torch.equal(inverted[key][0], samples)
        expected = torch.einsum("ab,sbf->saf", wigner[o3_lambda], values)
        torch.testing.assert_close(rotated[key][1], expected, atol=1e-10, rtol=0)
        # inversion multiplies by sigma (-1)^lambda
        factor = o3_sigma * (-1) ** o3_lambda
        torch.testing.assert_close(
            inverted[key][1], factor * values, atol=1e-10, rtol=0
        )
        if o3_sigma == -1 and o3_lambda == 0 and len(samples) > 0:
            n_pseudo += int(values.abs().max() > 1e-6)
    # the inversion check is meaningful: some pseudoscalars are far from zero
    assert n_pseudo > 0


def test_permutation_permutes_samples(calculator):
    atoms = _molecule()
    permutation = np.array([3, 0, 5, 1, 4, 2])
    permuted = atoms[permutation]
    reference = _by_sample(calculator.compute(atoms))
    result = _by_sample(calculator.compute(permuted))
    assert len(result) == len(reference)
    for (key, sample), value in result.items():
        original = list(sample)
        original[1:4] = permutation[list(sample[1:4])].tolist()
        torch.testing.assert_close(value, reference[(key, tuple(original))])


def test_periodic_images_are_distinct_samples(calculator):
    atoms = _periodic()
    tensor = calculator.compute(atoms)
    samples = torch.cat(
        [block.samples.values for key, block in tensor.items() if key["o3_sigma"] == 1]
    )
    # the same neighbour atom appears through several images
    neighbors = samples[:, [1, 2]]
    assert len(torch.unique(samples, dim=0)) == len(samples)
    assert len(torch.unique(neighbors, dim=0)) < len(samples)
    # the same images, described in a 2x1x1 supercell, give the same triplets
    supercell = _by_sample(calculator.compute(atoms.repeat((2, 1, 1))))
    for (key, sample), value in _by_sample(tensor).items():
        shifted = list(sample)
        for column in (2, 3):
            image = 4 + 3 * (column - 2)
            if shifted[image] % 2 != 0:
                shifted[column] += len(atoms)
            shifted[image] = (shifted[image] - (shifted[column] >= len(atoms))) // 2
        torch.testing.assert_close(value, supercell[(key, tuple(shifted))])


def test_selected_samples(calculator):
    frames = [_molecule(0), _molecule(1)]
    full = _by_sample(calculator.compute(frames))
    selection = mts.Labels(
        ["system", "atom"], torch.tensor([[0, 2], [1, 0], [1, 5]], dtype=torch.int32)
    )
    selected = _by_sample(calculator.compute(frames, selected_samples=selection))
    centers = {(s[0], s[1]) for _, s in selected}
    assert centers == {(0, 2), (1, 0), (1, 5)}
    for index, value in selected.items():
        torch.testing.assert_close(value, full[index])

    import metatensor

    atom_only = metatensor.Labels(["atom"], np.array([[0]], dtype=np.int32))
    result = calculator.compute(frames, selected_samples=atom_only)
    assert {tuple(s[:2]) for _, s in _by_sample(result)} == {(0, 0), (1, 0)}


def _compute_sum(calculator, positions, cell, atoms):
    """Sum over all triplets of ``atoms`` placed at ``positions`` in ``cell``."""
    from metatomic.torch import System

    system = System(
        types=torch.tensor(atoms.numbers),
        positions=positions,
        cell=cell,
        pbc=torch.tensor(atoms.pbc),
    )
    tensor = calculator(systems_with_neighbors([system], calculator.cutoff))
    return torch.cat([block.values.sum(dim=0).flatten() for block in tensor.blocks()])


def test_gradcheck_positions_and_cell():
    hypers = {
        "cutoff": {"radius": 2.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
        "density": {"type": "Gaussian", "width": 0.4, "center_atom_weight": 0.0},
        "basis": {
            "type": "TensorProduct",
            "max_angular": 2,
            "radial": {"type": "Gto", "max_radial": 1},
        },
    }
    calculator = TripletFeatures(**hypers, atomic_types=[6, 8])
    atoms = _periodic()
    positions = torch.tensor(atoms.positions, requires_grad=True)
    cell = torch.tensor(atoms.cell[:], requires_grad=True)

    def function(positions, cell):
        return _compute_sum(calculator, positions, cell, atoms)

    assert torch.autograd.gradcheck(function, (positions, cell), fast_mode=True)
    assert torch.autograd.gradgradcheck(function, (positions, cell), fast_mode=True)


def test_collinear_pairs_are_finite():
    hypers = dict(HYPERS)
    calculator = TripletFeatures(**hypers, atomic_types=[6])
    atoms = ase.Atoms("C3", positions=[[0, 0, 0], [1.2, 0, 0], [-1.3, 0, 0]])
    positions = torch.tensor(atoms.positions, requires_grad=True)
    values = _compute_sum(
        calculator, positions, torch.zeros(3, 3, dtype=torch.float64), atoms
    )
    assert torch.all(torch.isfinite(values))
    (gradient,) = torch.autograd.grad(values.square().sum(), positions)
    assert torch.all(torch.isfinite(gradient))
    assert gradient.abs().max() > 0


def test_script_matches_eager_and_roundtrips(calculator, tmp_path):
    systems = systems_with_neighbors([_molecule(), _periodic()], calculator.cutoff)
    eager = calculator(systems)
    scripted = torch.jit.script(calculator)
    result = scripted(systems)
    assert mts.equal(eager, result)

    path = str(tmp_path / "calculator.pt")
    scripted.save(path)
    loaded = torch.jit.load(path)
    assert mts.equal(eager, loaded(systems))


def test_float32_follows_input(calculator):
    systems = systems_with_neighbors(_molecule(), calculator.cutoff)
    reference = calculator(systems)
    systems32 = systems_with_neighbors(
        _molecule(), calculator.cutoff, dtype=torch.float32
    )
    result = calculator(systems32)
    for key, block in result.items():
        assert block.values.dtype == torch.float32
        torch.testing.assert_close(
            block.values.double(), reference.block(key).values, atol=1e-5, rtol=1e-4
        )


def test_cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    calculator = TripletFeatures(**HYPERS, atomic_types=[1, 6, 8])
    systems = systems_with_neighbors(_molecule(), calculator.cutoff)
    reference = calculator(systems)
    device = torch.device("cuda")
    systems = systems_with_neighbors(_molecule(), calculator.cutoff, device=device)
    result = calculator.to(device)(systems)
    for key, block in result.items():
        assert block.values.device.type == "cuda"
        torch.testing.assert_close(block.values.cpu(), reference.block(key).values)


def test_empty_and_isolated(calculator):
    isolated = ase.Atoms("CO", positions=[[0, 0, 0], [10, 0, 0]])
    with pytest.warns(UserWarning, match="shortest interatomic distance is 10 Å"):
        tensor = calculator.compute(isolated)
    assert len(tensor.keys) == 2 * 27
    assert all(len(block.samples) == 0 for block in tensor.blocks())
    assert all(len(block.properties) > 0 for block in tensor.blocks())

    empty = calculator.compute(ase.Atoms())
    assert all(len(block.samples) == 0 for block in empty.blocks())
    summed = calculator.compute_sum(isolated)
    assert sum(len(block.samples) for block in summed.blocks()) == 2 * 2 * 3 * 3


def test_bad_input(calculator):
    atoms = _molecule()
    atoms.positions[2] = [np.nan, 0, 0]
    with pytest.raises(ValueError, match="system 0 has non-finite positions"):
        calculator.compute(atoms)

    overlapping = ase.Atoms("CO", positions=[[0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="two atoms at the same position"):
        calculator.compute(overlapping)

    with pytest.raises(ValueError, match=r"atomic types \[7\] \(N\) are not sup"):
        calculator.compute(ase.Atoms("CN", positions=[[0, 0, 0], [1, 0, 0]]))

    systems = systems_with_neighbors([_molecule()], calculator.cutoff)
    systems += systems_with_neighbors([_molecule(1)], calculator.cutoff, torch.float32)
    with pytest.raises(ValueError, match="all systems must share dtype and device"):
        calculator(systems)

    with pytest.raises(TypeError, match="expected ase.Atoms or metatomic"):
        calculator.compute([np.zeros((3, 3))])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"density": {"type": "SmearedPowerLaw", "width": 0.3}}, "only 'Gaussian'"),
        ({"cutoff": {"radius": -1.0}}, "must be a positive number"),
        (
            {"basis": {"type": "Explicit", "max_angular": 2, "radial": {}}},
            "only 'TensorProduct'",
        ),
        (
            {
                "basis": {
                    "type": "TensorProduct",
                    "max_angular": 2,
                    "radial": {"type": "SphericalBessel", "max_radial": 2},
                }
            },
            "only 'Gto'",
        ),
        ({"density": {"type": "Gaussian", "width": 0.3, "scaling": {}}}, "scaling"),
        (
            {"cutoff": {"radius": 3.0, "smoothing": {"type": "Cosine", "width": 0.1}}},
            "unsupported cutoff smoothing",
        ),
    ],
)
def test_unsupported_hypers(change, message):
    hypers = {**HYPERS, **change}
    with pytest.raises(ValueError, match=message):
        TripletFeatures(**hypers)


def test_forward_needs_atomic_types():
    calculator = TripletFeatures(**HYPERS)
    systems = systems_with_neighbors(_molecule(), calculator.cutoff)
    with pytest.raises(ValueError, match="created without `atomic_types`"):
        calculator(systems)


def test_chunks_give_the_same_result(calculator):
    frames = [_molecule(0), _periodic(), _molecule(1)]
    whole = calculator.compute(frames, max_triplets=10**9)
    chunked = calculator.compute(frames, max_triplets=20)
    assert whole.keys == chunked.keys
    for key, block in whole.items():
        assert block.samples == chunked.block(key).samples
        # padding differs between chunks, so sums may be reordered
        torch.testing.assert_close(
            block.values, chunked.block(key).values, rtol=1e-12, atol=1e-14
        )


def test_chunks_keep_gradients(calculator):
    """Chunks write into one preallocated output; gradients still flow through it."""
    frames = [_molecule(0), _periodic()]
    gradients = []
    for max_triplets in (10**9, 20):
        systems = systems_with_neighbors(
            frames, calculator.cutoff, positions_requires_grad=True
        )
        features = calculator.compute(systems, max_triplets=max_triplets)
        total = sum((block.values**2).sum() for block in features.blocks())
        positions = [system.positions for system in systems]
        gradients.append(torch.autograd.grad(total, positions))
    for whole, chunked in zip(*gradients):
        assert float(whole.abs().max()) > 0
        torch.testing.assert_close(whole, chunked, rtol=1e-10, atol=1e-12)


def test_contraction_refuses_wrong_output_buffers():
    from tricenter.features.contraction import TripletContraction

    contraction = TripletContraction(max_angular=1, n_radial=2, o3_lambdas=[0])
    generator = torch.Generator().manual_seed(0)
    expansion = torch.randn((3, 4, 2), generator=generator, dtype=torch.float64)
    density = torch.randn((3, 4, 2), generator=generator, dtype=torch.float64)
    pair_center = torch.tensor([0, 0, 1])
    values, _, _ = contraction(expansion, density, pair_center, 2)
    written = [torch.full_like(block, float("nan")) for block in values]
    contraction(expansion, density, pair_center, 2, written)
    for block, expected in zip(written, values):
        torch.testing.assert_close(block, expected)
    wrong = [block[:-1] for block in values]
    with pytest.raises(ValueError, match=r"out\[0\] has shape"):
        contraction(expansion, density, pair_center, 2, wrong)


def test_ase_fast_path_matches_systems(calculator):
    mixed = _periodic()
    mixed.pbc = [True, False, True]
    # metatomic keeps no cell vector along a non-periodic direction
    mixed.cell[1] = [0.0, 0.0, 0.0]
    frames = [_molecule(), _periodic(), mixed]
    from_atoms = calculator.compute(frames)
    from_systems = calculator.compute(systems_with_neighbors(frames, calculator.cutoff))
    assert from_atoms.keys == from_systems.keys
    reference = _sorted_blocks(from_systems)
    for key, (samples, values) in _sorted_blocks(from_atoms).items():
        assert torch.equal(samples, reference[key][0])
        torch.testing.assert_close(values, reference[key][1], rtol=1e-12, atol=1e-14)
