import pytest

from .helpers import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data():
    """The developers' shared data folder (see ``helpers.SHARED_DATA``), or a skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"the developers' shared data folder is not at {SHARED_DATA} "
            "(optional: set TRICENTER_SHARED_DATA to use it)"
        )
    return SHARED_DATA
