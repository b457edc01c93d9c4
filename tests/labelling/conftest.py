import pytest

from tricenter.labelling.label import label_file

from .waters import CHEAP, METHOD, waters, write


@pytest.fixture(scope="module")
def labelled_waters(tmp_path_factory):
    """Four waters labelled once with forces, shared by the tests that only read."""
    directory = tmp_path_factory.mktemp("waters")
    source = write(directory / "in.xyz", waters(4))
    output = directory / "out.xyz"
    summary = label_file(source, output, METHOD, forces=True, **CHEAP)
    assert summary.complete
    return source, output
