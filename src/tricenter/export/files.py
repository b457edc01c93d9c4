"""Exported model files: writing them self-contained, and reading them back."""

import contextlib
import re
import zipfile
from pathlib import Path
from typing import List, Union

import torch
from metatomic.torch import AtomisticModel

from ..models import checkpoints
from .metadata import EXPORT_FORMAT, atomistic_model


#: namespaces of the TorchScript operators that engines provide themselves
ENGINE_OPERATORS = frozenset({"aten", "prim", "profiler", "metatensor", "metatomic"})


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
