"""Export tricenter energy models as metatomic models, for MD engines.

An exported file is a TorchScript :py:class:`metatomic.torch.AtomisticModel`: ASE
(``metatomic-ase``), LAMMPS (``pair_style metatomic``), i-PI, TorchSim and metatrain's
``mtt eval`` load it without tricenter installed. It declares

- ``energy`` (eV), per system or per atom, whose gradients give forces and stress;
- ``feature``, the latent :math:`\\xi_q(A_i) = \\sum_{jj'} \\phi_q(T_{ijj'})` of each
  atom (summed over atoms when asked per system), e.g. for chemiscope maps;
- one full neighbour list with the model's cutoff, and ``interaction_range`` equal to
  that cutoff (per-atom energies only depend on neighbours within it);
- ``selected_atoms``, honoured: engines that add ghost atoms (LAMMPS) get energies of
  the selected atoms only.

The whole model is plain TorchScript (the harmonics of
:py:mod:`tricenter.features.harmonics` included): an exported file needs no compiled
extension, and autograd gives forces, stress and their derivatives wherever it runs.

A model trained on the energies of some atoms only (the B8 benchmark learns atom 0's)
still declares ``energy``, so that engines can run it; its description says which
atoms the energies mean something for, and exporting it warns that an engine's total
energy (a sum over all atoms) is not the trained quantity.

>>> import tricenter.export
>>> sorted(tricenter.export.REFERENCES)
['architecture', 'implementation']
"""

import argparse
import contextlib
import copy
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Union

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

from . import __version__
from .models import checkpoints


#: version of the layout of exported files; :py:func:`load` refuses other versions
EXPORT_FORMAT = "1"

PAPER = (
    "J. Nigam, S. N. Pozdnyakov, K. K. Huguenin-Dumittan, M. Ceriotti, "
    '"Completeness of atomic structure representations", APL Mach. Learn. 2, 016110 '
    "(2024), https://doi.org/10.1063/5.0160740, arXiv:2302.14770"
)

#: references stored in the metadata of every exported model
REFERENCES: Dict[str, List[str]] = {
    "architecture": [PAPER],
    "implementation": ["tricenter: complete three-centre (triplet) models"],
}

_DTYPES = {"float64": torch.float64, "float32": torch.float32}

#: namespaces of the TorchScript operators that engines provide themselves
ENGINE_OPERATORS = frozenset({"aten", "prim", "profiler", "metatensor", "metatomic"})

#: the default name: metatomic presents a model as "the {name} model"
DEFAULT_NAME = "tricenter triplet energy"

_DEFAULT_DESCRIPTION = (
    "Complete three-centre (triplet) energy model: per-atom energies "
    "E_i = eps(xi(A_i)), with xi(A_i) a sum of a non-linear function over ordered "
    "pairs of neighbours (j, j') of atom i."
)


class MetatomicEnergyModel(torch.nn.Module):
    """The metatomic side of a tricenter energy model.

    Wraps any module with the tricenter energy-model interface: attributes ``cutoff``
    (Å) and ``atomic_types``, ``requested_neighbor_lists()``, and
    ``forward(systems, selected_atoms)`` returning per-centre energies
    ``(n_centers,)`` in eV, latent features ``(n_centers, n_latent)`` and the centres
    ``(n_centers, 2)`` as ``[system, atom]``.

    :param model: the energy model
    """

    atomic_types: List[int]

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        for name in ("cutoff", "atomic_types", "requested_neighbor_lists"):
            if not hasattr(model, name):
                raise TypeError(
                    f"{type(model).__name__} is not a tricenter energy model: it has "
                    f"no `{name}`"
                )
        self.model = model
        self.cutoff = float(model.cutoff)
        self.atomic_types = [int(t) for t in model.atomic_types]
        # Labels that never change, built here: Labels.single() / range() inside a
        # scripted forward make AtomisticModel.save fail
        self.energy_properties = Labels(["energy"], torch.tensor([[0]]))
        self.single_key = Labels(["_"], torch.tensor([[0]]))

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The neighbour lists of the wrapped model (one full list)."""
        return self.model.requested_neighbor_lists()

    def _per_system_or_atom(
        self,
        values: torch.Tensor,
        centers: torch.Tensor,
        n_systems: int,
        per_atom: bool,
        properties: Labels,
    ) -> TensorMap:
        device = values.device
        if per_atom:
            samples = Labels(["system", "atom"], centers.to(torch.int32).to(device))
        else:
            summed = torch.zeros(
                (n_systems, values.shape[1]), dtype=values.dtype, device=device
            )
            values = summed.index_add(0, centers[:, 0].to(device), values)
            systems = torch.arange(n_systems, dtype=torch.int32, device=device)
            samples = Labels(["system"], systems.reshape(-1, 1))
        block = TensorBlock(
            values=values,
            samples=samples,
            components=[],
            properties=properties.to(device),
        )
        return TensorMap(self.single_key.to(device), [block])

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if len(outputs) == 0:
            return results
        energies, latent, centers = self.model(systems, selected_atoms)
        n_systems = len(systems)
        if "energy" in outputs:
            results["energy"] = self._per_system_or_atom(
                energies.reshape(-1, 1),
                centers,
                n_systems,
                outputs["energy"].sample_kind == "atom",
                self.energy_properties,
            )
        if "feature" in outputs:
            properties = Labels(
                ["feature"],
                torch.arange(latent.shape[1], dtype=torch.int32).reshape(-1, 1),
            )
            results["feature"] = self._per_system_or_atom(
                latent,
                centers,
                n_systems,
                outputs["feature"].sample_kind == "atom",
                properties,
            )
        return results


def atomistic_model(
    model: torch.nn.Module,
    *,
    dtype: torch.dtype = torch.float64,
    name: str = DEFAULT_NAME,
    description: str = "",
    authors: Optional[List[str]] = None,
    trained_atoms: Optional[List[int]] = None,
) -> AtomisticModel:
    """Wrap a tricenter energy model in a :py:class:`metatomic.torch.AtomisticModel`.

    The model is copied, converted to ``dtype`` and put in evaluation mode; the
    original is left untouched.

    :param model: a tricenter energy model (see :py:class:`MetatomicEnergyModel`)
    :param dtype: ``torch.float64`` or ``torch.float32``, the dtype engines must use
    :param name: name stored in the metadata (metatomic presents the model as "the
        {name} model", so a trailing "model" is dropped)
    :param description: description stored in the metadata
    :param authors: authors stored in the metadata
    :param trained_atoms: the atoms whose energies the model was trained on (``None``:
        all, the total energy); the description then says that only their per-atom
        energies are meaningful, and :py:func:`warnings.warn` says it now
    """
    dtype_name = {torch.float64: "float64", torch.float32: "float32"}.get(dtype)
    if dtype_name is None:
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    model = copy.deepcopy(model).to(dtype=dtype).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    wrapper = MetatomicEnergyModel(model)

    name = re.sub(r"\s+model\s*$", "", name.strip(), flags=re.IGNORECASE)
    if description == "":
        description = _DEFAULT_DESCRIPTION
    extra = {
        "tricenter-version": __version__,
        "tricenter-export-format": EXPORT_FORMAT,
        "cutoff": str(wrapper.cutoff),
    }
    if trained_atoms is not None:
        notice = trained_atoms_notice(trained_atoms)
        description = f"{notice}\n\n{description}"
        extra["trained-atoms"] = json.dumps([int(atom) for atom in trained_atoms])
        warnings.warn(notice, UserWarning, stacklevel=2)
    metadata = ModelMetadata(
        name=name,
        description=description,
        authors=[] if authors is None else list(authors),
        references=REFERENCES,
        extra=extra,
    )
    capabilities = ModelCapabilities(
        outputs={
            "energy": ModelOutput(
                unit="eV",
                sample_kind="atom",
                description="potential energy, or its decomposition on atoms",
            ),
            "feature": ModelOutput(
                sample_kind="atom",
                description="latent triplet summary xi of each atom (Eq. 2 of the "
                "paper), summed over atoms per system",
            ),
        },
        atomic_types=wrapper.atomic_types,
        interaction_range=wrapper.cutoff,
        length_unit="angstrom",
        supported_devices=["cpu", "cuda"],
        dtype=dtype_name,
    )
    return AtomisticModel(wrapper.eval(), metadata, capabilities)


def trained_atoms_notice(trained_atoms: List[int]) -> str:
    """What a model trained on the energies of ``trained_atoms`` means, in words.

    :param trained_atoms: indices of the atoms whose energies the model learnt
    """
    atoms = ", ".join(str(int(atom)) for atom in trained_atoms)
    plural = "s" if len(trained_atoms) > 1 else ""
    return (
        f"This model was trained on the energy of atom{plural} {atoms} of each "
        f"structure only: use the per-atom energy of atom{plural} {atoms} (ASE: "
        f"get_potential_energies(), metatomic: energy with sample_kind='atom'). The "
        "total energy that engines report (ASE get_potential_energy(), LAMMPS pe) "
        "sums every atom's energy: it is not a quantity the model learnt, and "
        "neither are the forces an engine derives from it."
    )


@contextlib.contextmanager
def _engine_libraries_only():
    """Hide from metatomic the compiled libraries that engines do not provide.

    :py:meth:`metatomic.torch.AtomisticModel.save` records every TorchScript library
    loaded in this process (sphericart-torch or featomic-torch, imported by anything
    at all) as a dependency of the model, which engines then try to load.
    """
    loaded = torch.ops.loaded_libraries
    kept = set(loaded)
    try:
        loaded.intersection_update(
            {
                library
                for library in kept
                if re.search(r"(metatensor|metatomic)_torch", Path(library).name)
            }
        )
        yield
    finally:
        loaded.update(kept)


def compiled_operators(path: Union[str, Path]) -> List[str]:
    """Namespaces of the compiled TorchScript operators a saved model calls, beyond
    those of torch, metatensor and metatomic that engines provide.

    :param path: a saved TorchScript file
    """
    namespaces = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".py") and "/code/" in f"/{name}":
                code = archive.read(name).decode()
                namespaces.update(re.findall(r"\bops\.(\w+)\.", code))
    return sorted(namespaces - ENGINE_OPERATORS)


def export(
    model: torch.nn.Module,
    path: Union[str, Path],
    *,
    dtype: torch.dtype = torch.float64,
    extensions: Union[str, Path, None] = None,
    **metadata,
) -> AtomisticModel:
    """Save a tricenter energy model as a metatomic model file.

    A tricenter model is plain TorchScript: the file needs no compiled extension and
    records none. A model that does call compiled operators (a custom module inside
    it) gets them collected into ``extensions``, which engines must then be given.

    :param model: a tricenter energy model (see :py:class:`MetatomicEnergyModel`)
    :param path: where to write the model
    :param dtype: ``torch.float64`` or ``torch.float32``
    :param extensions: folder for the collected extensions of a model that calls
        compiled operators (default: an ``extensions`` folder next to ``path``); it
        is re-created
    :param metadata: ``name``, ``description``, ``authors``, ``trained_atoms`` (see
        :py:func:`atomistic_model`)
    :return: the (not compiled) :py:class:`metatomic.torch.AtomisticModel`
    """
    path = Path(path)
    wrapped = atomistic_model(model, dtype=dtype, **metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _engine_libraries_only():
        wrapped.save(str(path))
    if len(compiled_operators(path)) != 0:
        if extensions is None:
            extensions = path.resolve().parent / "extensions"
        wrapped.save(str(path), collect_extensions=str(extensions))
    return wrapped


class ModelFileError(RuntimeError):
    """An exported model file that is missing, damaged or incompatible."""


def load(
    path: Union[str, Path], extensions_directory: Union[str, Path, None] = None
) -> torch.nn.Module:
    """Load an exported model, with a clear error when the file is not usable.

    :param path: exported model file
    :param extensions_directory: folder of the collected extensions; by default the
        ``extensions`` folder next to ``path`` when it exists
    :return: the TorchScript :py:class:`metatomic.torch.AtomisticModel`
    :raises ModelFileError: if the file is missing, is not a complete metatomic
        model, or was exported by an incompatible tricenter or torch version
    """
    from metatomic.torch import load_atomistic_model, read_model_metadata

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file '{path}' does not exist")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"'{path}' is not a TorchScript archive: the file is truncated or is "
            "not an exported model (export one with `tricenter export`)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            extra = [name for name in names if "/extra/" in name]
            torch_version = [n for n in extra if n.endswith("/extra/torch-version")]
            if len(torch_version) == 1:
                torch_version = archive.read(torch_version[0]).decode()
            else:
                torch_version = None
            archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelFileError(
            f"'{path}' is damaged (truncated or corrupted archive): {error}"
        ) from error
    if torch_version is None:
        raise ModelFileError(
            f"'{path}' is a TorchScript archive but not a metatomic model (no "
            "torch-version record)"
        )
    exported = tuple(torch_version.split("+")[0].split(".")[:2])
    current = tuple(torch.__version__.split("+")[0].split(".")[:2])
    if exported != current:
        raise ModelFileError(
            f"'{path}' was exported with torch {torch_version}, this process runs "
            f"torch {torch.__version__}: re-export the model with this torch version"
        )
    try:
        extra = read_model_metadata(str(path)).extra
    except RuntimeError as error:
        raise ModelFileError(f"'{path}' has unreadable metadata: {error}") from error
    found = extra.get("tricenter-export-format")
    if found is not None and found != EXPORT_FORMAT:
        raise ModelFileError(
            f"'{path}' was exported by tricenter {extra.get('tricenter-version')} "
            f"with export format {found}; this tricenter reads format "
            f"{EXPORT_FORMAT}: re-export it"
        )
    if extensions_directory is None and (path.parent / "extensions").is_dir():
        extensions_directory = path.parent / "extensions"
    try:
        return load_atomistic_model(
            str(path),
            None if extensions_directory is None else str(extensions_directory),
        )
    except RuntimeError as error:
        raise ModelFileError(f"could not load '{path}': {error}") from error


def load_checkpoint(path: Union[str, Path]) -> torch.nn.Module:
    """Read a trained energy model from a checkpoint, see
    :py:func:`tricenter.models.checkpoints.load_checkpoint`.

    :param path: checkpoint file, or a training output folder
    """
    return checkpoints.load_checkpoint(path)


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
