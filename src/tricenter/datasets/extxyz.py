"""
The one reader of extended XYZ files, and the scanner of their frames.

:py:func:`read_extxyz` reads plain or compressed (``.gz``, ``.bz2``, ``.xz``)
files, and turns every way a file can be wrong into one clear message: a missing
file into :py:class:`FileNotFoundError`; an empty, undecodable or malformed file
into :py:class:`ValueError` naming the file and, where it can be told, the faulty
frame. :py:func:`frame_chunks` finds the byte ranges of the complete frames at the
start of a file, which also lets a writer that was killed mid-frame repair its
output.
"""

import bz2
import gzip
import io
import lzma
import os
from pathlib import Path

import ase
import ase.io


#: openers of the compressed files, by suffix
_DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def read_extxyz(path: "str | os.PathLike", index=":") -> list[ase.Atoms]:
    """
    Frames of an extended XYZ file, compressed or not.

    A compressed file is decompressed in memory first: ASE seeks back and forth in a
    compressed stream, which makes reading thousands of frames take minutes instead
    of seconds.

    :param path: path of a ``.xyz`` file, or of one compressed as ``.xyz.gz``,
        ``.xyz.bz2`` or ``.xyz.xz``
    :param index: which frames, as for :py:func:`ase.io.read`
    :return: a list of :py:class:`ase.Atoms`
    :raises FileNotFoundError: if ``path`` is not a file
    :raises ValueError: if the file holds no structure, cannot be decompressed or
        decoded, or a frame is malformed (the message names the frame)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot read '{path}': no such file")
    data = _read_bytes(path)
    if not data.strip():
        raise ValueError(f"cannot read '{path}': it holds no structure")
    try:
        text = data.decode()
    except UnicodeDecodeError as error:
        raise ValueError(
            f"cannot read '{path}': not a text file, is it an extended XYZ file? "
            f"({error})"
        ) from None
    try:
        frames = ase.io.read(io.StringIO(text), index, format="extxyz")
    except Exception as error:  # noqa: BLE001 -- ASE raises many types here
        raise ValueError(
            f"cannot read '{path}'{_bad_frame(data)}: {type(error).__name__}: {error}"
        ) from None
    return frames if isinstance(frames, list) else [frames]


def _read_bytes(path: Path) -> bytes:
    opener = _DECOMPRESS.get(path.suffix)
    if opener is None:
        return path.read_bytes()
    try:
        with opener(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError, lzma.LZMAError) as error:
        raise ValueError(
            f"cannot decompress '{path}' as a {path.suffix} file: {error}"
        ) from None


def _bad_frame(data: bytes) -> str:
    """Say which frame of an XYZ file is truncated or malformed, if that can be told."""
    chunks = frame_chunks(data)
    for index, (start, stop) in enumerate(chunks):
        try:
            ase.io.read(io.StringIO(data[start:stop].decode()), format="extxyz")
        except Exception:  # noqa: BLE001 -- only used to improve an error message
            return f", frame {index} (malformed)"
    end = chunks[-1][1] if chunks else 0
    if data[end:].strip():
        return f", frame {len(chunks)} (truncated or malformed)"
    return ""


def frame_chunks(data: bytes) -> list[tuple[int, int]]:
    """
    Byte ranges of the complete XYZ frames at the start of ``data``.

    A frame is complete when its atom count parses and all its ``n_atoms + 2`` lines
    are there, each ending with a newline; the scan stops at the first frame that
    is not, e.g. one cut short by a killed writer.

    >>> frame_chunks(b"1\\n\\nH 0 0 0\\n1\\n\\nH 0 0 1\\n2\\n")
    [(0, 11), (11, 22)]
    """
    chunks = []
    position = 0
    size = len(data)
    while position < size:
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        try:
            n_atoms = int(data[position:newline])
        except ValueError:
            break
        end = newline
        for _ in range(n_atoms + 1):
            end = data.find(b"\n", end + 1)
            if end < 0:
                return chunks
        chunks.append((position, end + 1))
        position = end + 1
    return chunks
