"""The frame-cutoff potential: symmetry, exact forces and stress, continuity at
both cutoffs, the fallback cases, TorchScript and export, the B8 partners."""

import copy

import ase
import ase.build
import numpy as np
import pytest
import torch
from metatensor.torch import Labels, TensorBlock
from metatomic.torch import System
from scipy.spatial.transform import Rotation

import tricenter.export
from tricenter.datasets.structures import b8_pairs
from tricenter.features.core import TripletCore
from tricenter.features.hypers import PAPER_HYPERS, parse_hypers
from tricenter.features.neighbors import gather_pairs, systems_with_neighbors
from tricenter.models import POTENTIAL_HYPERS, TripletPotential
from tricenter.models.build import build_model

from ..export.helpers import assert_relative, calculator, displaced, finite_differences


R_C = 3.0
R_F = 2.2
HYPERS = {
    "cutoff": {"radius": R_C, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "frame_cutoff": {
        "radius": R_F,
        "smoothing": {"type": "ShiftedCosine", "width": 0.4},
    },
    "density": {"type": "Gaussian", "width": 0.3, "center_atom_weight": 0.0},
    "basis": {
        "type": "TensorProduct",
        "max_angular": 2,
        "radial": {"type": "Gto", "max_radial": 2},
    },
}


def _model(types=(1, 6, 8), seed=0, hypers=HYPERS, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("channels", 4)
    kwargs.setdefault("latent", 8)
    kwargs.setdefault("hidden", [8])
    kwargs.setdefault("fallback_hidden", [8])
    kwargs.setdefault("head_hidden", [8])
    model = TripletPotential(hypers, list(types), **kwargs).to(torch.float64)
    if set(types) == {1, 6, 8}:
        frames = [_molecule(seed, "COHHO"[: 2 + seed]) for seed in range(4)]
        model.calibrate(systems_with_neighbors(frames, model.cutoff))
    with torch.no_grad():
        model.energy_shift.copy_(torch.linspace(-1.0, 1.0, len(types)))
        model.energy_scale.fill_(3.0)
    return model


def _molecule(seed=0, symbols="COHHO"):
    rng = np.random.default_rng(seed)
    return ase.Atoms(symbols, positions=rng.uniform(-1.2, 1.2, (len(symbols), 3)))


def _energies(model, atoms):
    systems = systems_with_neighbors(atoms, model.cutoff, positions_requires_grad=True)
    energies, _, _ = model(systems)
    (gradient,) = torch.autograd.grad(energies.sum(), systems[0].positions)
    return energies.detach(), -gradient


def _fd_forces(model, atoms, delta=1e-5):
    forces = np.zeros((len(atoms), 3))
    for atom in range(len(atoms)):
        for direction in range(3):
            values = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[atom, direction] += sign * delta
                values.append(float(_energies(model, moved)[0].sum()))
            forces[atom, direction] = -(values[0] - values[1]) / (2 * delta)
    return forces


def test_symmetries():
    model = _model()
    atoms = _molecule(1)
    reference, forces = _energies(model, atoms)
    rotation = Rotation.random(random_state=3).as_matrix()
    for matrix in (rotation, -rotation, -np.eye(3)):
        moved = atoms.copy()
        moved.positions = atoms.positions @ matrix.T + np.array([0.3, -2.0, 1.1])
        energies, rotated_forces = _energies(model, moved)
        assert torch.allclose(energies, reference, rtol=0, atol=1e-12)
        expected = forces.numpy() @ matrix.T
        assert np.allclose(rotated_forces.numpy(), expected, atol=1e-11)
    order = [3, 0, 4, 2, 1]
    energies, _ = _energies(model, atoms[order])
    assert torch.allclose(energies, reference[order], rtol=0, atol=1e-12)
    assert float(reference.std()) > 1e-3


def test_forces_and_stress_of_the_export_match_finite_differences(tmp_path):
    atoms = ase.build.bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.1, seed=2)
    hypers = copy.deepcopy(HYPERS)
    hypers["frame_cutoff"]["radius"] = 2.6
    hypers["cutoff"]["radius"] = 4.0
    # a seed whose untrained heads give forces of order 1 eV/Å here
    model = _model(types=(14,), seed=1, hypers=hypers)
    model.calibrate(systems_with_neighbors(atoms, model.cutoff))
    path = tmp_path / "potential.pt"
    tricenter.export.export(model, path)
    atoms.calc = calculator(path)
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 0.1
    stress = atoms.get_stress(voigt=False)
    # E is an ordinary sum of per-atom energies
    energies = atoms.get_potential_energies()
    assert np.isclose(atoms.get_potential_energy(), energies.sum(), atol=1e-12)
    assert float(np.std(energies)) > 1e-4
    delta = 2e-6
    fd = calculator(path).compute_energy(displaced(atoms, delta))["energy"]
    fd_forces, fd_stress = finite_differences(atoms, fd, delta)
    assert_relative(forces, fd_forces, 1e-6)
    assert_relative(stress, fd_stress, 1e-6)

    # float32 export against the float64 model
    path32 = tmp_path / "potential-32.pt"
    tricenter.export.export(model, path32, dtype=torch.float32)
    single = atoms.copy()
    single.calc = calculator(path32)
    assert_relative(single.get_forces(), forces, 1e-4)


def test_gradcheck_on_a_tiny_system():
    model = _model()
    atoms = _molecule(2, "COH")
    systems = systems_with_neighbors(atoms, model.cutoff)
    block = systems[0].get_neighbor_list(model.requested_neighbor_lists()[0])
    samples = block.samples.values.to(torch.long)

    def energy(positions):
        system = System(
            types=systems[0].types,
            positions=positions,
            cell=systems[0].cell,
            pbc=systems[0].pbc,
        )
        vectors = positions[samples[:, 1]] - positions[samples[:, 0]]
        system.add_neighbor_list(
            model.requested_neighbor_lists()[0],
            TensorBlock(
                vectors.reshape(-1, 3, 1),
                block.samples,
                block.components,
                block.properties,
            ),
        )
        return model([system])[0].sum()

    positions = systems[0].positions.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(energy, (positions,))
    assert torch.autograd.gradgradcheck(energy, (positions,))


def test_torchscript_save_load(tmp_path):
    model = _model()
    scripted = torch.jit.script(model)
    path = tmp_path / "scripted.pt"
    torch.jit.save(scripted, str(path))
    loaded = torch.jit.load(str(path))
    systems = systems_with_neighbors([_molecule(4), _molecule(5)], model.cutoff)
    eager = model(systems)
    for other in (scripted(systems), loaded(systems)):
        for a, b in zip(eager, other):
            assert torch.allclose(a, b, rtol=0, atol=1e-13)


def _mirror_partners():
    """Centre C at the origin with its two tagged neighbours in the plane z = 0;
    two more neighbours beyond r_f: H at +z in one structure and at -z in the
    other, O at +z in both. The structures are not mirror images (the angle
    H-C-O differs) and share the part of the density that is even under z -> -z.
    """
    structures = []
    for z in (2.2, -2.2):
        positions = [
            [0.0, 0.0, 0.0],
            [1.1, 0.0, 0.0],
            [0.3, 1.0, 0.0],
            [0.6, -0.5, z],
            [-1.3, 0.4, 1.9],
        ]
        structures.append(ase.Atoms("CHHHO", positions=positions))
    return structures


@pytest.mark.parametrize("parity", [False, True])
def test_one_frame_sees_the_odd_part_of_the_density_only_with_parity(parity):
    model = _model(parity=parity)
    distances = np.linalg.norm(_mirror_partners()[0].positions, axis=1)
    assert np.all(distances[1:3] < R_F - 0.4)
    assert np.all((distances[3:] > R_F) & (distances[3:] < R_C - 0.5))
    centre = Labels(["system", "atom"], torch.tensor([[0, 0]]))
    per_triplet = []
    for atoms in _mirror_partners():
        systems = systems_with_neighbors(atoms, model.cutoff)
        inputs = model.inputs(systems, centre)
        assert inputs[0].shape[0] == 2  # the two tagged neighbours
        per_triplet.append(model.triplet_inputs(*inputs[:4])[0].detach())
    scale = float(per_triplet[0].abs().max())
    n_even = model.channels * model.n_even
    even = [values[:, :n_even] for values in per_triplet]
    assert torch.allclose(even[0], even[1], rtol=0, atol=1e-12 * scale)
    odd = [values[:, n_even:] for values in per_triplet]
    if parity:
        # the (j, j') and (j', j) triplets tell the structures apart
        assert float((odd[0] - odd[1]).abs().max()) > 1e-3 * scale
    else:
        assert odd[0].shape[1] == 0
        # then the whole triplet sum agrees: only the fallback separates them
        assert torch.allclose(
            per_triplet[0], per_triplet[1], rtol=0, atol=1e-12 * scale
        )


def test_b8_partners_differ_although_the_summed_triplets_agree():
    frames = b8_pairs(2)
    core = TripletCore(parse_hypers(**PAPER_HYPERS))
    systems = systems_with_neighbors(frames, 2.0)
    atom_zero = Labels(["atom"], torch.tensor([[0]]))
    summed = []
    for system in systems:
        pairs = gather_pairs([system], core.options, atom_zero)
        density = core(pairs, torch.tensor([5])).density
        summed.append(core.invariants(core.summed(density).values))
    scale = float(summed[0].abs().max())
    hypers = copy.deepcopy(POTENTIAL_HYPERS)
    hypers.update({k: PAPER_HYPERS[k] for k in ("cutoff", "density", "basis")})
    hypers["frame_cutoff"] = {
        "radius": 2.0,
        "smoothing": {"type": "ShiftedCosine", "width": 0.1},
    }
    model = _model(types=(5,), hypers=hypers, channels=8, latent=16, hidden=[16])
    model.calibrate(systems, atom_zero)
    predictions = [
        model([s], atom_zero)[0].detach() - model.energy_shift for s in systems
    ]
    for pair in range(2):
        plus, minus = summed[2 * pair], summed[2 * pair + 1]
        assert torch.allclose(plus, minus, rtol=0, atol=1e-11 * scale)
        difference = float((predictions[2 * pair] - predictions[2 * pair + 1]).abs())
        assert difference > 1e-6 * float(predictions[2 * pair].abs())


def test_isolated_atoms_and_a_dilute_gas_give_the_energy_shifts():
    model = _model()
    for atoms in (
        ase.Atoms("O", positions=[[0.0, 0.0, 0.0]]),
        ase.Atoms("COH", positions=[[0, 0, 0], [5.0, 0, 0], [0, 0, 7.0]]),
    ):
        energies, forces = _energies(model, atoms)
        shifts = model.energy_shift[model.type_index(torch.tensor(atoms.numbers))]
        assert torch.equal(energies, shifts.detach())
        assert torch.equal(forces, torch.zeros_like(forces))


@pytest.mark.parametrize(
    "symbols, positions",
    [
        ("CO", [[0, 0, 0], [0, 0, 1.3]]),
        ("OCO", [[0, 0, -1.2], [0, 0, 0], [0, 0, 1.2]]),
        ("CH", [[0, 0, 0], [0.8, 1.6, 1.1]]),  # beyond r_f, within r_c
    ],
    ids=["dimer", "linear", "beyond-frame"],
)
def test_fallback_cases_are_finite_with_exact_forces(symbols, positions):
    model = _model()
    atoms = ase.Atoms(symbols, positions=positions)
    atoms.rattle(1e-3, seed=0)
    energies, forces = _energies(model, atoms)
    shifts = model.energy_shift[model.type_index(torch.tensor(atoms.numbers))]
    assert torch.all(torch.isfinite(energies))
    assert float((energies - shifts.detach()).abs().min()) > 1e-6
    fd = _fd_forces(model, atoms)
    assert_relative(forces.numpy(), fd, 1e-6)


@pytest.mark.parametrize("radius", [R_F, R_C], ids=["frame", "density"])
def test_energy_continuous_when_a_neighbour_crosses_a_cutoff(radius):
    """A third atom moves out along x through the frame and density spheres of
    the centre, which keeps two tagged neighbours."""
    model = _model()

    def atoms_at(x):
        positions = [[0, 0, 0], [1.1, 0.2, 0], [-0.3, 1.0, 0.4], [x, -0.4, 0.5]]
        return ase.Atoms("COHH", positions=positions)

    def crossing(distance):
        return float(np.sqrt(distance**2 - 0.4**2 - 0.5**2))

    x_cross = crossing(radius)
    energies = []
    # a step of 2e-12 Å: the slope (forces below 1 eV/Å) moves E by < 2e-12 eV
    for delta in (-1e-12, 1e-12):
        energies.append(float(_energies(model, atoms_at(x_cross + delta))[0].sum()))
    assert abs(energies[1] - energies[0]) < 1e-10
    # a fine scan across the crossing: smooth energies, forces from differences
    grid = x_cross + np.linspace(-0.05, 0.05, 21)
    scan = [_energies(model, atoms_at(x)) for x in grid]
    totals = np.array([float(e.sum()) for e, _ in scan])
    forces = np.array([float(f[3, 0]) for _, f in scan])
    # no step: second differences stay well below the first ones
    first, second = np.diff(totals), np.diff(totals, 2)
    assert np.abs(second).max() < 0.2 * np.abs(first).max()
    # large enough that the rounding of E (~1e-15 eV) stays ~1e-10 eV/Å
    delta = 1e-5
    for x, force in zip(grid[::4], forces[::4]):
        ahead = float(_energies(model, atoms_at(x + delta))[0].sum())
        behind = float(_energies(model, atoms_at(x - delta))[0].sum())
        fd = -(ahead - behind) / (2 * delta)
        assert abs(fd - force) <= 1e-6 * np.abs(forces).max() + 1e-10


@pytest.mark.parametrize(
    "change, match",
    [
        (
            {
                "frame_cutoff": {
                    "radius": 3.5,
                    "smoothing": {"type": "ShiftedCosine", "width": 0.4},
                }
            },
            "exceeds the density cutoff",
        ),
        (
            {
                "frame_cutoff": {
                    "radius": -2.0,
                    "smoothing": {"type": "ShiftedCosine", "width": 0.4},
                }
            },
            "positive",
        ),
        ({"extra": {}}, r"unknown \['extra'\]"),
        ({"frame_cutoff": None}, "must be a dict"),
        ({"density": {"type": "Gaussian", "width": 0.3}}, "center_atom_weight"),
    ],
)
def test_bad_hypers(change, match):
    hypers = copy.deepcopy(HYPERS)
    hypers.update(change)
    with pytest.raises(ValueError, match=match):
        TripletPotential(hypers, [1, 6])


def test_missing_frame_cutoff_and_unknown_types():
    hypers = {k: v for k, v in HYPERS.items() if k != "frame_cutoff"}
    with pytest.raises(ValueError, match=r"missing \['frame_cutoff'\]"):
        TripletPotential(hypers, [1])
    model = _model(types=(1, 6))
    with pytest.raises(ValueError, match=r"atomic types \[8\] are not supported"):
        _energies(model, _molecule(0, "CO"))


def test_built_from_a_model_description():
    model = build_model(
        {"type": "potential", "hypers": HYPERS, "channels": 4, "latent": 8}, [1, 6]
    )
    assert isinstance(model, TripletPotential)
    assert model.channels == 4 and model.cutoff == R_C and model.frame_radius == R_F
    default = build_model({"type": "potential"}, [14])
    assert default.cutoff == 4.5 and default.frame_radius == 3.0


def test_cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    model = _model().to("cuda")
    atoms = _molecule(3)
    systems = systems_with_neighbors(atoms, model.cutoff, device="cuda")
    on_gpu = model(systems)[0].cpu()
    on_cpu = _model()(systems_with_neighbors(atoms, model.cutoff))[0]
    assert torch.allclose(on_gpu, on_cpu.detach(), rtol=0, atol=1e-12)
