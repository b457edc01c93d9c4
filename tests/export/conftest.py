"""Exported models shared by the export and engine tests."""

import pytest
import torch

import tricenter.export

from .helpers import SMALL_HYPERS, SmallTripletEnergy


@pytest.fixture(scope="session")
def model():
    return SmallTripletEnergy([1, 6])


@pytest.fixture(scope="session")
def exported(model, tmp_path_factory):
    """The float64 export of :py:func:`model`, in its own folder."""
    path = tmp_path_factory.mktemp("engines") / "model.pt"
    tricenter.export.export(model, path)
    return path


@pytest.fixture(scope="session")
def exported_deepset(tmp_path_factory):
    """An (untrained) :py:class:`tricenter.models.TripletEnergyModel`, exported."""
    from tricenter.models import TripletEnergyModel

    torch.manual_seed(0)
    model = TripletEnergyModel(
        SMALL_HYPERS, [1, 6], latent=8, encoder_hidden=[16], head_hidden=[16]
    ).to(torch.float64)
    path = tmp_path_factory.mktemp("deepset") / "model.pt"
    tricenter.export.export(model, path)
    return path


@pytest.fixture(scope="session")
def b8_frames():
    from tricenter.datasets.structures import b8_pairs

    return b8_pairs(4, seed=12345)
