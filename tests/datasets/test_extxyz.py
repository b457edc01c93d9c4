import bz2
import gzip
import lzma

import ase.io
import numpy as np
import pytest
from ase.build import molecule

from tricenter.datasets import read_extxyz
from tricenter.datasets.extxyz import frame_chunks


def _molecules(n):
    frames = []
    for index in range(n):
        atoms = molecule("CH4")
        atoms.positions += 0.01 * index
        atoms.info["index"] = index
        frames.append(atoms)
    return frames


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "frames.xyz"
    ase.io.write(path, _molecules(3), format="extxyz")
    return path


@pytest.mark.parametrize("opener", [gzip.open, bz2.open, lzma.open])
def test_compressed_files_read_as_the_plain_one(plain, opener):
    suffix = {gzip.open: ".gz", bz2.open: ".bz2", lzma.open: ".xz"}[opener]
    compressed = plain.with_name(plain.name + suffix)
    with opener(compressed, "wb") as stream:
        stream.write(plain.read_bytes())
    expected = read_extxyz(plain)
    frames = read_extxyz(compressed)
    assert [f.info["index"] for f in frames] == [0, 1, 2]
    for atoms, reference in zip(frames, expected):
        np.testing.assert_array_equal(atoms.numbers, reference.numbers)
        np.testing.assert_allclose(atoms.positions, reference.positions)
    assert [f.info["index"] for f in read_extxyz(compressed, "1:")] == [1, 2]


def test_a_single_index_gives_a_list(plain):
    frames = read_extxyz(plain, 1)
    assert isinstance(frames, list)
    assert [f.info["index"] for f in frames] == [1]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot read '.*missing\.xyz': no"):
        read_extxyz(tmp_path / "missing.xyz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_extxyz(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_files(tmp_path, content):
    path = tmp_path / "empty.xyz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"'.*empty\.xyz': it holds no structure"):
        read_extxyz(path)
    compressed = tmp_path / "empty.xyz.gz"
    with gzip.open(compressed, "wb") as stream:
        stream.write(content)
    with pytest.raises(ValueError, match="holds no structure"):
        read_extxyz(compressed)


def test_the_faulty_frame_is_named(plain, tmp_path):
    lines = plain.read_text().splitlines(keepends=True)
    path = tmp_path / "bad.xyz"

    path.write_text("".join(lines[:-1]))
    with pytest.raises(ValueError, match=r"'.*bad\.xyz', frame 2 \(truncated or"):
        read_extxyz(path)

    # 7 lines per frame (count, comment, 5 atoms): line 9 is frame 1's first atom
    path.write_text("".join(lines[:9] + ["C 0.0 zero 0.0\n"] + lines[10:]))
    with pytest.raises(ValueError, match=r"'.*bad\.xyz', frame 1 \(malformed\)"):
        read_extxyz(path)

    compressed = tmp_path / "bad.xyz.gz"
    with gzip.open(compressed, "wt") as stream:
        stream.write("".join(lines[:-1]))
    with pytest.raises(ValueError, match=r"frame 2 \(truncated or malformed\)"):
        read_extxyz(compressed)


def test_files_that_are_not_text(tmp_path):
    fake = tmp_path / "fake.xyz.gz"
    fake.write_text("3\nnot compressed\n")
    with pytest.raises(ValueError, match=r"cannot decompress '.*fake\.xyz\.gz' as"):
        read_extxyz(fake)
    binary = tmp_path / "binary.xyz"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ValueError, match="not a text file"):
        read_extxyz(binary)


def test_frame_chunks_stop_at_the_first_incomplete_frame(plain):
    data = plain.read_bytes()
    chunks = frame_chunks(data)
    assert len(chunks) == 3
    assert chunks[0][0] == 0 and chunks[-1][1] == len(data)
    assert [start for start, _ in chunks[1:]] == [stop for _, stop in chunks[:-1]]
    assert frame_chunks(data[:-1]) == chunks[:2]
    assert frame_chunks(b"x\n" + data) == []
