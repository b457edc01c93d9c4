"""Trained rows exported as metatomic models and run by an engine (ASE)."""

from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelOutput

from ..export import export, load_checkpoint


def export_models(table, out: Path, names) -> dict:
    """Export trained rows of a :py:class:`~tricenter.paper.table1.Table1` as metatomic
    models and evaluate them through ASE on its test pairs (when ``metatomic-ase`` is
    installed).

    :return: ``{name: {"path", "partner_difference"}}``, the largest relative
        difference between the partners' centre energies computed by the engine
        (``None`` without ``metatomic-ase``)
    """
    frames = [table.frames[i] for i in table.index["test"]]
    result = {}
    for name in names:
        path = out / f"{name}.pt"
        model = load_checkpoint(table.out / "models" / name / "model.pt")
        export(model, path, name=f"tricenter demo {name}")
        difference = None
        if find_spec("metatomic_ase") is not None:
            from metatomic_ase import MetatomicCalculator

            calculator = MetatomicCalculator(
                str(path), extensions_directory=str(out / "extensions")
            )
            energies = engine_center_energies(calculator, frames)
            difference = float(
                np.max(np.abs(energies[0::2] - energies[1::2]))
                / np.max(np.abs(energies))
            )
        result[name] = {"path": str(path), "partner_difference": difference}
    return result


def engine_center_energies(calculator, frames: list) -> np.ndarray:
    """Energy of atom 0 of each frame (the B8 centre), computed by a
    ``metatomic_ase.MetatomicCalculator``."""
    center = Labels(["system", "atom"], torch.tensor([[0, 0]], dtype=torch.int32))
    energies = []
    for atoms in frames:
        outputs = calculator.run_model(
            atoms, {"energy": ModelOutput(sample_kind="system")}, selected_atoms=center
        )
        energies.append(float(outputs["energy"].block().values[0, 0]))
    return np.array(energies)


__all__ = ["engine_center_energies", "export_models"]
