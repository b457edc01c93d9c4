"""Export to metatomic: the model file, its contract, and the loader's errors.

The engines themselves (ASE, i-PI, TorchSim, LAMMPS, metatrain) are exercised in
the ``test_<engine>.py`` files; the checks here go through ``metatomic-ase`` too,
since that is how users reach an exported file.
"""

import argparse
import json
import zipfile

import ase
import ase.build
import ase.io
import numpy as np
import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import (
    ModelOutput,
    read_model_metadata,
)

import tricenter
import tricenter.cli
import tricenter.export
import tricenter.features.neighbors

from .helpers import SMALL_HYPERS, calculator, periodic_cell


def test_capabilities(exported):
    loaded = tricenter.export.load(exported)
    capabilities = loaded.capabilities()
    assert capabilities.dtype == "float64"
    assert capabilities.length_unit == "angstrom"
    assert capabilities.interaction_range == 2.6
    assert capabilities.atomic_types == [1, 6]
    assert capabilities.supported_devices == ["cpu", "cuda"]
    # metatomic adds "features", the deprecated alias of "feature"
    assert {"energy", "feature"} <= set(capabilities.outputs.keys())
    assert capabilities.outputs["energy"].unit == "eV"
    assert capabilities.outputs["energy"].sample_kind == "atom"
    assert capabilities.outputs["feature"].sample_kind == "atom"

    (options,) = loaded.requested_neighbor_lists()
    assert options.cutoff == 2.6
    assert options.full_list
    assert options.strict


def test_metadata_cites_the_paper(exported):
    metadata = read_model_metadata(str(exported))
    references = " ".join(metadata.references["architecture"])
    assert "Completeness of atomic structure representations" in references
    assert "arXiv:2302.14770" in references
    assert "Nigam" in references and "Ceriotti" in references
    assert metadata.extra["tricenter-version"] == tricenter.__version__
    assert metadata.extra["tricenter-export-format"] == "1"


def test_metadata_name(model, exported, tmp_path):
    """metatomic presents a model as "the {name} model": names do not end in
    "model"."""
    metadata = read_model_metadata(str(exported))
    assert metadata.name == "tricenter triplet energy"
    assert "This is the tricenter triplet energy model\n" in str(metadata)
    path = tmp_path / "named.pt"
    tricenter.export.export(model, path, name="my triplet Model ")
    metadata = read_model_metadata(str(path))
    assert metadata.name == "my triplet"
    assert "model model" not in str(metadata).lower()


def test_no_extensions(model, exported):
    """The model is plain TorchScript: it records no compiled extension, even though
    this process loaded sphericart-torch, and no extensions folder is written."""
    pytest.importorskip("sphericart.torch")
    assert any("sphericart" in name for name in torch.ops.loaded_libraries)
    path = exported.parent / "again" / "model.pt"
    tricenter.export.export(model, path)
    for model in (exported, path):
        assert not (model.parent / "extensions").exists()
        with zipfile.ZipFile(model) as archive:
            for entry in ("extensions", "extensions-deps"):
                (record,) = [n for n in archive.namelist() if n.endswith(entry)]
                assert json.loads(archive.read(record)) == []
        assert tricenter.export.compiled_operators(model) == []
    # the libraries loaded in this process are left as they were
    assert any("sphericart" in name for name in torch.ops.loaded_libraries)


def test_trained_atoms(model, tmp_path):
    """A model trained on atom 0's energy says so in its description, its metadata
    and a warning at export time."""
    path = tmp_path / "center.pt"
    with pytest.warns(UserWarning, match="trained on the energy of atom 0 of each"):
        tricenter.export.export(model, path, trained_atoms=[0])
    metadata = read_model_metadata(str(path))
    assert metadata.description.startswith(
        "This model was trained on the energy of atom 0 of each structure only"
    )
    assert "get_potential_energy()" in metadata.description
    assert metadata.extra["trained-atoms"] == "[0]"

    with pytest.warns(UserWarning, match="energy of atoms 0, 3 of each"):
        tricenter.export.export(model, tmp_path / "two.pt", trained_atoms=[0, 3])


def test_exported_matches_python(model, exported):
    """The file computes what the Python model computes."""
    atoms = periodic_cell()
    systems = tricenter.features.neighbors.systems_with_neighbors([atoms], model.cutoff)
    energies, latent, centers = model(systems)

    results = calculator(exported).run_model(
        atoms,
        {
            "energy": ModelOutput(sample_kind="atom"),
            "feature": ModelOutput(sample_kind="atom"),
        },
    )
    energy = results["energy"].block()
    assert energy.samples.names == ["system", "atom"]
    assert torch.equal(energy.samples.values, centers.to(torch.int32))
    torch.testing.assert_close(
        energy.values[:, 0], energies.detach(), rtol=1e-12, atol=1e-12
    )
    feature = results["feature"].block()
    assert feature.properties.names == ["feature"]
    torch.testing.assert_close(feature.values, latent.detach(), rtol=1e-12, atol=1e-12)


def test_per_atom_sums_to_total(exported):
    atoms = periodic_cell(seed=1)
    calc = calculator(exported)
    per_atom = calc.run_model(
        atoms,
        {
            "energy": ModelOutput(sample_kind="atom"),
            "feature": ModelOutput(sample_kind="atom"),
        },
    )
    total = calc.run_model(
        atoms,
        {
            "energy": ModelOutput(sample_kind="system"),
            "feature": ModelOutput(sample_kind="system"),
        },
    )
    for name in ("energy", "feature"):
        summed = per_atom[name].block().values.sum(dim=0)
        torch.testing.assert_close(
            summed, total[name].block().values[0], rtol=1e-12, atol=1e-12
        )
    atoms.calc = calc
    assert abs(atoms.get_potential_energy() - float(summed_energy(per_atom))) < 1e-10
    np.testing.assert_allclose(
        atoms.get_potential_energies(), per_atom["energy"].block().values[:, 0]
    )


def summed_energy(results) -> float:
    return float(results["energy"].block().values.sum())


def test_selected_atoms_equal_atoms_without_ghosts(exported):
    """LAMMPS' layout: local atoms plus ghost copies of their periodic neighbours, in
    a non-periodic system; the local atoms are selected."""
    from ase.neighborlist import neighbor_list

    atoms = periodic_cell(seed=2)
    n_local = len(atoms)
    calc = calculator(exported)
    reference = calc.run_model(atoms, {"energy": ModelOutput(sample_kind="atom")})

    neighbor, shift = neighbor_list("jS", atoms, 2.6)
    images = {(int(j), *map(int, s)) for j, s in zip(neighbor, shift) if np.any(s != 0)}
    images = sorted(images)
    ghost_positions = [
        atoms.positions[j] + np.array(s) @ atoms.cell.array for j, *s in images
    ]
    ghosts = ase.Atoms(
        numbers=[atoms.numbers[j] for j, *_ in images], positions=ghost_positions
    )
    local = atoms.copy()
    local.pbc = False
    local.cell = np.zeros((3, 3))
    with_ghosts = local + ghosts
    assert len(with_ghosts) > 5 * n_local

    selected = Labels(
        ["system", "atom"],
        torch.tensor([[0, i] for i in range(n_local)], dtype=torch.int32),
    )
    for sample_kind in ("atom", "system"):
        result = calc.run_model(
            with_ghosts,
            {"energy": ModelOutput(sample_kind=sample_kind)},
            selected_atoms=selected,
        )
        values = result["energy"].block().values
        if sample_kind == "atom":
            assert torch.equal(result["energy"].block().samples.values, selected.values)
            expected = reference["energy"].block().values
        else:
            expected = reference["energy"].block().values.sum().reshape(1, 1)
        torch.testing.assert_close(values, expected, rtol=1e-10, atol=1e-12)

    # a subset, not starting at zero
    subset = Labels(
        ["system", "atom"], torch.tensor([[0, 3], [0, 5]], dtype=torch.int32)
    )
    result = calc.run_model(
        atoms, {"energy": ModelOutput(sample_kind="atom")}, selected_atoms=subset
    )
    torch.testing.assert_close(
        result["energy"].block().values,
        reference["energy"].block().values[[3, 5]],
        rtol=1e-12,
        atol=1e-14,
    )


def test_rotation_translation_permutation(exported):
    atoms = periodic_cell(seed=3)
    atoms.calc = calculator(exported)
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)

    rng = np.random.default_rng(4)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation *= np.sign(np.linalg.det(rotation))
    permutation = rng.permutation(len(atoms))

    moved = atoms[permutation]
    moved.set_cell(moved.cell.array @ rotation.T, scale_atoms=True)
    moved.positions += rng.normal(size=3) * 3.0
    moved.calc = calculator(exported)
    assert abs(moved.get_potential_energy() - energy) < 1e-10
    np.testing.assert_allclose(
        moved.get_forces(), forces[permutation] @ rotation.T, atol=1e-10
    )
    np.testing.assert_allclose(
        moved.get_stress(voigt=False), rotation @ stress @ rotation.T, atol=1e-10
    )

    # wrapping atoms back into the cell changes the periodic images, not the energy
    moved.wrap()
    assert abs(moved.get_potential_energy() - energy) < 1e-10


def test_float32_variant(model, exported, tmp_path):
    path = tmp_path / "model-f32.pt"
    tricenter.export.export(model, path, dtype=torch.float32)
    assert tricenter.export.load(path).capabilities().dtype == "float32"
    # the Python model is not modified by exporting a float32 copy
    assert model.phi.dtype == torch.float64

    atoms = periodic_cell(seed=5)
    atoms.calc = calculator(path)
    energy_32 = atoms.get_potential_energy()
    forces_32 = atoms.get_forces()
    atoms.calc = calculator(exported)
    energy_64 = atoms.get_potential_energy()
    forces_64 = atoms.get_forces()
    assert abs(energy_32 - energy_64) < 1e-4 * max(1.0, abs(energy_64))
    np.testing.assert_allclose(
        forces_32, forces_64, atol=1e-4 * np.abs(forces_64).max()
    )


def test_bad_dtype(model, tmp_path):
    with pytest.raises(ValueError, match="dtype must be torch.float64 or"):
        tricenter.export.export(model, tmp_path / "model.pt", dtype=torch.float16)


def test_not_an_energy_model(tmp_path):
    with pytest.raises(TypeError, match="is not a tricenter energy model"):
        tricenter.export.export(torch.nn.Linear(2, 2), tmp_path / "model.pt")


def test_missing_file(tmp_path):
    with pytest.raises(tricenter.export.ModelFileError, match="does not exist"):
        tricenter.export.load(tmp_path / "nothing.pt")


def test_truncated_file(exported, tmp_path):
    data = exported.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(tricenter.export.ModelFileError, match="truncated"):
        tricenter.export.load(truncated)

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(tricenter.export.ModelFileError, match="truncated"):
        tricenter.export.load(garbage)


def _rewrite(source, destination, replace):
    """Copy a zip archive, changing the entries that ``replace`` returns."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(destination, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, replace(item.filename, data))


def test_incompatible_torch_version(exported, tmp_path):
    path = tmp_path / "old-torch.pt"

    def replace(name, data):
        return b"1.13.0" if name.endswith("/extra/torch-version") else data

    _rewrite(exported, path, replace)
    with pytest.raises(tricenter.export.ModelFileError, match="exported with torch"):
        tricenter.export.load(path)


def test_incompatible_export_format(exported, tmp_path):
    path = tmp_path / "future.pt"

    def replace(name, data):
        if name.endswith("/extra/model-metadata"):
            text = data.decode().replace(
                '"tricenter-export-format": "1"', '"tricenter-export-format": "99"'
            )
            assert text != data.decode()
            return text.encode()
        return data

    _rewrite(exported, path, replace)
    with pytest.raises(tricenter.export.ModelFileError, match="export format 99"):
        tricenter.export.load(path)


def test_not_a_metatomic_model(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(tricenter.export.ModelFileError, match="not a metatomic model"):
        tricenter.export.load(path)


def test_cli(model, tmp_path, capsys):
    checkpoint = tmp_path / "model.ckpt"
    torch.save(model, checkpoint)
    output = tmp_path / "out" / "exported.pt"
    status = tricenter.cli.main(
        ["export", str(checkpoint), "-o", str(output), "--dtype", "float32"]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"model": str(output), "extensions": None, "dtype": "float32"}
    assert not (output.parent / "extensions").exists()
    assert tricenter.export.load(output).capabilities().dtype == "float32"


def test_cli_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "missing.ckpt"
    assert tricenter.cli.main(["export", str(missing)]) == 1
    assert capsys.readouterr().err == (
        f"tricenter export: error: checkpoint '{missing}' does not exist\n"
    )


def test_cli_training_checkpoint(tmp_path, capsys):
    """``tricenter export`` reads what ``tricenter train`` writes."""
    from tricenter.train import train

    frames = []
    for seed in range(8):
        atoms = periodic_cell(seed=seed)
        atoms.info["energy"] = 0.1 * seed
        frames.append(atoms)
    ase.io.write(tmp_path / "data.xyz", frames)
    result = train(
        {
            "data": {"path": str(tmp_path / "data.xyz"), "consecutive_pairs": True},
            "model": {"type": "bispectrum", "hypers": SMALL_HYPERS, "head_hidden": [8]},
            "split": {"train": 0.5, "val": 0.25, "test": 0.25},
            "training": {"epochs": 1, "batch_size": 2, "progress": False},
            "output": str(tmp_path / "training"),
        }
    )
    capsys.readouterr()

    output = tmp_path / "exported.pt"
    # the training output folder, or the model.pt in it
    for checkpoint in (tmp_path / "training", tmp_path / "training" / "model.pt"):
        assert tricenter.cli.main(["export", str(checkpoint), "-o", str(output)]) == 0
    capsys.readouterr()

    atoms = frames[0]
    systems = tricenter.features.neighbors.systems_with_neighbors([atoms], 2.6)
    expected = result["model"](systems)[0].detach().sum()
    atoms.calc = calculator(output)
    assert abs(atoms.get_potential_energy() - float(expected)) < 1e-10

    # the training state next to it names the file to export, without a traceback
    state = tmp_path / "training" / "checkpoint.pt"
    with pytest.raises(
        ValueError, match="resumable training state; use the 'model.pt'"
    ):
        tricenter.export.load_checkpoint(state)
    parser = argparse.ArgumentParser()
    tricenter.export.add_cli_arguments(parser)
    arguments = parser.parse_args([str(state), "-o", str(output)])
    with pytest.raises(ValueError, match="use the 'model.pt' that training writes"):
        tricenter.export.run_cli(arguments)
    with pytest.raises(ValueError, match="is an exported metatomic model"):
        tricenter.export.load_checkpoint(output)
