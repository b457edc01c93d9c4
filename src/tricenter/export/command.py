"""``tricenter export``: a trained checkpoint to a metatomic model file."""

import argparse
import json
from pathlib import Path
from typing import List, Optional, Union

import torch

from .files import compiled_operators, export, load_checkpoint
from .metadata import DEFAULT_NAME


_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def add_cli_arguments(parser: argparse.ArgumentParser):
    """Arguments of ``tricenter export``."""
    parser.add_argument(
        "checkpoint",
        help="the model that `tricenter train` wrote (model.pt in its output "
        "folder, or the folder itself)",
    )
    parser.add_argument(
        "-o", "--output", default="model.pt", help="exported model file (model.pt)"
    )
    parser.add_argument(
        "--dtype",
        choices=sorted(_DTYPES),
        default="float64",
        help="dtype engines run the model with (float64)",
    )
    parser.add_argument(
        "--extensions",
        default=None,
        help="folder for compiled extensions, only written for models that call "
        "compiled operators (tricenter's own models do not)",
    )
    parser.add_argument("--name", default=DEFAULT_NAME, help="model name")


def trained_atoms(path: Union[str, Path]) -> Optional[List[int]]:
    """The atoms whose energies a ``tricenter train`` checkpoint learnt
    (``data.selected_atoms`` of its configuration), ``None`` for all atoms or for
    checkpoints without a configuration.

    :param path: checkpoint file, or a training output folder
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        return None
    selected = saved["config"].get("data", {}).get("selected_atoms")
    return None if selected is None else [int(atom) for atom in selected]


def run_cli(args: argparse.Namespace) -> int:
    """Run ``tricenter export``."""
    model = load_checkpoint(args.checkpoint)
    exported = Path(args.output)
    export(
        model,
        exported,
        dtype=_DTYPES[args.dtype],
        extensions=args.extensions,
        name=args.name,
        trained_atoms=trained_atoms(args.checkpoint),
    )
    extensions = None
    if len(compiled_operators(exported)) != 0:
        extensions = args.extensions
        if extensions is None:
            extensions = str(exported.resolve().parent / "extensions")
    summary = {"model": str(exported), "extensions": extensions, "dtype": args.dtype}
    print(json.dumps(summary))
    return 0
