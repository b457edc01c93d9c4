"""Fine-tuning: training that starts from a trained model instead of a fresh one.

The ``fine_tune`` section of a training configuration names the trained model (a
``model.pt`` written by ``tricenter train``); the architecture, the atomic types and
the input scales come from it, the data and the optimisation (with its own
learning-rate schedule) from the configuration:

.. code-block:: yaml

    fine_tune:
      checkpoint: pretrained/model.pt
      fresh_heads: false      # re-initialise the per-type energy heads
      freeze: [encoder]       # parameters kept as they are (names or prefixes)
      refit_baseline: true    # new per-type reference energies (see below)

New labels often come with another energy reference (another functional, a
semi-empirical method before DFT): with ``refit_baseline``, the per-type energy
shifts move by the least-squares fit of the loaded model's errors on the new
training set to the composition, so that training starts from the loaded model
with the new reference.
"""

from typing import List

import numpy as np
import torch

from ..models.checkpoints import model_of, read_checkpoint
from .config import FineTuneConfig, ModelConfig
from .energy import predict_energies, type_counts


#: structures per forward pass when the baseline is refitted
CHUNK = 32


def load_pretrained(fine_tune: FineTuneConfig) -> tuple:
    """The trained model that a fine-tuning run starts from, and its description.

    :param fine_tune: the ``fine_tune`` section
    :return: the model (in training mode) and its :py:class:`ModelConfig`
    :raises FileNotFoundError: when the checkpoint does not exist
    :raises ValueError: when the file is not a model checkpoint
    """
    checkpoint = read_checkpoint(fine_tune.checkpoint)
    names = ModelConfig.__dataclass_fields__
    options = {k: v for k, v in checkpoint["model"].items() if k in names}
    options["atomic_types"] = list(checkpoint["atomic_types"])
    return model_of(checkpoint).train(), ModelConfig(**options)


def freeze(model: torch.nn.Module, names: List[str]) -> List[str]:
    """Keep the parameters named (or under a prefix in) ``names`` fixed.

    :param model: the model
    :param names: parameter names or prefixes up to a dot (``"encoder"`` freezes
        ``encoder.0.weight``, ``encoder.0.bias``, ...)
    :return: the names of the frozen parameters
    :raises ValueError: when a name matches no parameter
    """
    frozen = []
    for name in names:
        matches = [
            (key, parameter)
            for key, parameter in model.named_parameters()
            if key == name or key.startswith(name + ".")
        ]
        if not matches:
            top = sorted({key.split(".")[0] for key, _ in model.named_parameters()})
            raise ValueError(
                f"fine_tune.freeze: '{name}' names no parameter of the model; "
                f"its parameters are under {', '.join(top)}"
            )
        for key, parameter in matches:
            parameter.requires_grad_(False)
            frozen.append(key)
    return frozen


def reset_heads(model: torch.nn.Module) -> None:
    """Draw fresh weights for the per-type energy heads (torch's default
    initialisation of each layer, from torch's current random state)."""
    for module in model.heads.modules():
        if module is not model.heads and hasattr(module, "reset_parameters"):
            module.reset_parameters()


def refit_baseline(
    model: torch.nn.Module,
    energies: np.ndarray,
    frames: list,
    systems: list,
    atoms,
) -> np.ndarray:
    """Move the per-type energy shifts by the least-squares fit of the model's
    errors on ``energies`` to the composition.

    :param model: the loaded model
    :param energies: ``(n_frames,)`` training energies
    :param frames: the training structures
    :param systems: the same structures as metatomic systems with neighbour lists
    :param atoms: atom indices described in each frame (``None``: all)
    :return: the change of the shifts, one per type
    """
    counts = type_counts(model, frames, atoms)
    predicted = []
    with torch.no_grad():
        for start in range(0, len(systems), CHUNK):
            chunk = systems[start : start + CHUNK]
            values, _ = predict_energies(model, chunk, atoms)
            predicted.append(values.double().cpu().numpy())
    errors = energies - np.concatenate(predicted) if predicted else energies
    change, *_ = np.linalg.lstsq(counts, errors, rcond=None)
    with torch.no_grad():
        model.energy_shift.add_(torch.as_tensor(change).to(model.energy_shift))
    return change
