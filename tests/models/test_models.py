import ase
import numpy as np
import pytest
import torch

from tricenter.datasets.structures import b8_pairs
from tricenter.features.neighbors import systems_with_neighbors
from tricenter.models import (
    PAPER_HYPERS,
    BispectrumEnergyModel,
    TripletEncoder,
    TripletEnergyModel,
    TripletVectorModel,
)
from tricenter.train.energy import predict_energies, selection

from ..helpers import HYPERS


@pytest.fixture(scope="module")
def pairs():
    frames = b8_pairs(3)
    return frames, systems_with_neighbors(frames, 2.0)


def _molecule(seed=0, symbols="COHHN"):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-1.3, 1.3, size=(len(symbols), 3))
    return ase.Atoms(symbols, positions=positions)


def _calibrated(model, systems, selected):
    encoder = getattr(model, "encoder", None)
    if encoder is not None:
        encoder.calibrate(systems, selected)
    else:
        with torch.no_grad():
            model.input_scale.fill_(1.0)
            features, _, _ = model.features(systems, selected)
            model.input_scale.fill_(1.0 / float(features.pow(2).mean().sqrt()))
    with torch.no_grad():
        model.energy_scale.fill_(4.0)
    return model


LINEAR_MODELS = {
    "B_L": lambda: TripletEnergyModel(PAPER_HYPERS, [5], 16, [], []),
    "A_L": lambda: TripletEnergyModel(PAPER_HYPERS, [5], 16, [], [16, 16]),
    "D_L": lambda: BispectrumEnergyModel(
        PAPER_HYPERS, [5], [16], head_activation=False
    ),
    "D_NL": lambda: BispectrumEnergyModel(PAPER_HYPERS, [5], [16, 16]),
}


@pytest.mark.parametrize("name", sorted(LINEAR_MODELS))
def test_linear_sums_of_triplets_do_not_resolve_pairs(name, pairs):
    frames, systems = pairs
    torch.manual_seed(0)
    model = LINEAR_MODELS[name]().to(torch.float64)
    _calibrated(model, systems, selection(len(systems), [0]))
    energies = predict_energies(model, systems, [0])[0].detach()
    assert float(energies.std()) > 1e-3
    assert torch.all((energies[0::2] - energies[1::2]).abs() <= 1e-8)


def test_triplet_mlp_resolves_pairs(pairs):
    frames, systems = pairs
    torch.manual_seed(0)
    model = TripletEnergyModel(PAPER_HYPERS, [5], 16, [16, 16], []).to(torch.float64)
    _calibrated(model, systems, selection(len(systems), [0]))
    energies = predict_energies(model, systems, [0])[0].detach()
    assert torch.all((energies[0::2] - energies[1::2]).abs() > 1e-6)


def _materialised(encoder, systems, selected):
    """Σ φ(T) with the triplet matrix built explicitly."""
    inputs = encoder.inputs
    expansion, density, pair_center, pair_type, _, _ = inputs(systems, selected)
    contraction = inputs.features.contraction
    values, first, second = contraction(
        expansion, density[pair_center], pair_center, density.shape[0]
    )
    blocks = [v[:, 0] for v, b in zip(values, contraction.blocks) if b[0] == 0]
    triplets = torch.cat(blocks, dim=1) * encoder.input_scale
    weights = encoder.weight[pair_type[first], pair_type[second]]
    hidden = torch.einsum("tf,tqf->tq", triplets, weights)
    if not encoder.linear:
        hidden = encoder.tail(hidden + encoder.bias)
        hidden = hidden - encoder.tail(encoder.bias.unsqueeze(0))
    xi = torch.zeros(density.shape[0], hidden.shape[1], dtype=hidden.dtype)
    return xi.index_add(0, pair_center[first], hidden) * encoder.sum_scale


@pytest.mark.parametrize("hidden", [[], [8, 8]])
def test_fused_layer_equals_materialised_triplets(hidden):
    frames = [_molecule(0), _molecule(1, "CCOHHH")]
    systems = systems_with_neighbors(frames, 3.0)
    torch.manual_seed(0)
    encoder = TripletEncoder(HYPERS, [1, 6, 7, 8], 6, hidden).to(torch.float64)
    with torch.no_grad():
        encoder.weight.normal_()
    with torch.no_grad():
        fused, _, _ = encoder(systems)
        reference = _materialised(encoder, systems, None)
    assert fused.shape == (11, 6)
    assert torch.allclose(
        fused, reference, rtol=0, atol=1e-10 * float(reference.abs().max())
    )


def test_linear_encoder_from_summed_triplets():
    systems = systems_with_neighbors([_molecule(2), _molecule(3)], 3.0)
    torch.manual_seed(0)
    encoder = TripletEncoder(HYPERS, [1, 6, 7, 8], 5).to(torch.float64)
    xi, _, _ = encoder(systems)
    _, density, _, _, _, _ = encoder.inputs(systems, None)
    summed = encoder.encode_summed(encoder.inputs.summed(density))
    assert torch.allclose(
        xi, summed, rtol=0, atol=1e-12 * float(xi.detach().abs().max())
    )
    nonlinear = TripletEncoder(HYPERS, [1, 6, 7, 8], 5, [4])
    with pytest.raises(ValueError, match="only a linear encoder"):
        nonlinear.encode_summed(encoder.inputs.summed(density))


def _models():
    torch.manual_seed(0)
    return {
        "triplet": TripletEnergyModel(HYPERS, [1, 6, 7, 8], 8, [8, 8], [8, 8]),
        "bispectrum": BispectrumEnergyModel(HYPERS, [1, 6, 7, 8], [8]),
    }


@pytest.mark.parametrize("kind", ["triplet", "bispectrum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_energy_interface(kind, dtype):
    model = _models()[kind].to(dtype)
    systems = systems_with_neighbors([_molecule(4), _molecule(5)], 3.0, dtype=dtype)
    energies, latent, centers = model(systems)
    assert energies.shape == (10,) and energies.dtype == dtype
    assert latent.shape[0] == 10 and torch.all(torch.isfinite(latent))
    assert centers.tolist()[:2] == [[0, 0], [0, 1]]
    assert model.cutoff == 3.0 and model.atomic_types == [1, 6, 7, 8]
    assert model.requested_neighbor_lists()[0].full_list
    selected = selection(2, [0, 2])
    subset, _, centers = model(systems, selected)
    assert centers.tolist() == [[0, 0], [0, 2], [1, 0], [1, 2]]
    assert torch.allclose(subset, energies[[0, 2, 5, 7]], atol=1e-5)


@pytest.mark.parametrize("kind", ["triplet", "bispectrum"])
def test_scripted_equals_eager(kind, tmp_path):
    model = _models()[kind].to(torch.float64)
    systems = systems_with_neighbors([_molecule(6)], 3.0)
    scripted = torch.jit.script(model)
    path = str(tmp_path / "model.pt")
    scripted.save(path)
    loaded = torch.jit.load(path)
    expected = model(systems)[0]
    for module in (scripted, loaded):
        assert torch.allclose(module(systems, None)[0], expected, rtol=0, atol=1e-12)


def test_vector_model():
    torch.manual_seed(0)
    model = TripletVectorModel(HYPERS, [1, 6, 7, 8], 7, 4, [8], [8]).to(torch.float64)
    systems = systems_with_neighbors([_molecule(7)], 3.0)
    outputs, latent, centers = model(systems)
    assert outputs.shape == (5, 7) and latent.shape == (5, 4)
    assert torch.allclose(outputs, model.decode(latent, torch.tensor([1, 3, 0, 0, 2])))


def test_forces_match_finite_differences():
    model = _models()["triplet"].to(torch.float64)
    frame = _molecule(8)
    systems = systems_with_neighbors([frame], 3.0, positions_requires_grad=True)
    _, forces = predict_energies(model, systems, forces=True)
    delta = 1e-5
    numerical = np.zeros((len(frame), 3))
    for atom in range(len(frame)):
        for axis in range(3):
            energies = []
            for sign in (1, -1):
                moved = frame.copy()
                moved.positions[atom, axis] += sign * delta
                moved_systems = systems_with_neighbors([moved], 3.0)
                energies.append(
                    float(predict_energies(model, moved_systems)[0][0].detach())
                )
            numerical[atom, axis] = -(energies[0] - energies[1]) / (2 * delta)
    assert np.allclose(forces[0].detach().numpy(), numerical, atol=1e-6)


def test_gradcheck_energy():
    model = _models()["triplet"].to(torch.float64)
    frame = _molecule(9, "COH")
    system = systems_with_neighbors([frame], 3.0)[0]

    def energy(positions):
        from metatomic.torch import System

        moved = System(system.types, positions, system.cell, system.pbc)
        moved = systems_with_neighbors([moved], 3.0)[0]
        return model([moved])[0].sum()

    positions = system.positions.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(energy, (positions,))


def test_unseen_species_are_refused():
    """The error names the unknown elements and the supported ones, eager and
    scripted."""
    model = _models()["triplet"].to(torch.float64)
    systems = systems_with_neighbors([_molecule(10, "CSH")], 3.0)
    message = (
        r"atomic types \[16\] \(S\) are not supported: the supported types are "
        r"H \(1\), C \(6\), N \(7\), O \(8\)"
    )
    with pytest.raises(ValueError, match=message):
        model(systems)
    with pytest.raises(torch.jit.Error, match=message):
        torch.jit.script(model)(systems)


def test_bad_hypers_are_refused():
    with pytest.raises(ValueError, match="unknown hyper-parameter groups"):
        TripletEnergyModel({**HYPERS, "basis_set": {}}, [1])


def test_energy_continuous_when_a_neighbour_crosses_the_cutoff():
    model = _models()["triplet"].to(torch.float64)
    energies = []
    for distance in (3.0 - 1e-7, 3.0 + 1e-7):
        frame = ase.Atoms("CHO", positions=[[0, 0, 0], [1.1, 0, 0], [0, distance, 0]])
        systems = systems_with_neighbors([frame], 3.0)
        with torch.no_grad():
            energies.append(float(model(systems, selection(1, [0]))[0][0]))
    assert abs(energies[0] - energies[1]) < 1e-9
