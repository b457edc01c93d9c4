"""Multi-layer perceptrons shared by the encoders, decoders and heads."""

from typing import List

import torch


def normalization(kind: str, width: int, groups: int = 4) -> torch.nn.Module:
    """A normalisation layer acting on ``(n_samples, width)`` inputs.

    :param kind: ``"layer"`` (LayerNorm), ``"group"`` (GroupNorm with ``groups``
        groups) or ``"none"``
    :param width: number of features
    :param groups: number of groups of GroupNorm
    """
    if kind == "layer":
        return torch.nn.LayerNorm(width)
    if kind == "group":
        if width % groups != 0:
            raise ValueError(
                f"GroupNorm needs a width divisible by {groups}, got {width}"
            )
        return torch.nn.GroupNorm(groups, width)
    if kind == "none":
        return torch.nn.Identity()
    raise ValueError(f"unknown normalization '{kind}', expected layer, group or none")


def mlp(
    n_inputs: int,
    hidden: List[int],
    n_outputs: int,
    norm: str = "layer",
    activation: bool = True,
) -> torch.nn.Sequential:
    """``Linear -> norm -> SiLU`` for each hidden width, then a last ``Linear``.

    With ``activation=False`` the layers are stacked without normalisation or
    non-linearity: the result is a (factorised) linear map, as in the paper's linear
    models.

    >>> [type(layer).__name__ for layer in mlp(8, [16, 16], 1)]
    ['Linear', 'LayerNorm', 'SiLU', 'Linear', 'LayerNorm', 'SiLU', 'Linear']

    :param n_inputs: input width
    :param hidden: widths of the hidden layers
    :param n_outputs: output width
    :param norm: normalisation of the hidden layers, see :py:func:`normalization`
    :param activation: whether hidden layers are normalised and activated
    """
    layers: List[torch.nn.Module] = []
    previous = n_inputs
    for width in hidden:
        layers.append(torch.nn.Linear(previous, width))
        if activation:
            layers.append(normalization(norm, width))
            layers.append(torch.nn.SiLU())
        previous = width
    layers.append(torch.nn.Linear(previous, n_outputs))
    return torch.nn.Sequential(*layers)
