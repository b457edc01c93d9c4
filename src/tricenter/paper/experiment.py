"""Pairs with their cached features, and what the rows of Table 1 share: training,
prediction, and results that are stored so that an interrupted run resumes."""

import functools
import json
import time
from pathlib import Path
from typing import Dict

import numpy as np
import torch

from ..features.neighbors import systems_with_neighbors
from ..models import PAPER_HYPERS, NiceFeatures
from ..models.inputs import TripletInputs
from ..train.config import OptimConfig
from ..train.energy import fit_energy_scales, predict_energies, selection
from ..train.loop import fit
from .metrics import pair_metrics
from .pairs import frames_of, load_pairs, split_pairs


DTYPES = {"float32": torch.float32, "float64": torch.float64}


def row(build):
    """Make ``build(self, name, ...)``, which returns the test predictions and
    targets, a row: its errors are stored under ``out/rows/{name}.json`` and read
    back instead of running ``build`` again."""

    @functools.wraps(build)
    def run(self, name, *args, **kwargs):
        done = self.done(name)
        if done is not None:
            return done
        start = time.perf_counter()
        predicted, target = build(self, name, *args, **kwargs)
        return self.record(name, predicted, target, time.perf_counter() - start)

    return run


class Experiment:
    """B8 pairs split into training, validation and test pairs, their systems and
    cached per-centre features.

    :param frames: all frames, ``2k`` and ``2k + 1`` the partners of pair ``k``
    :param targets: ``(n_frames,)`` energies in eV
    :param split: pair indices of ``"train"``, ``"val"`` and ``"test"``
    :param out: output directory (``rows/``, ``models/``)
    :param preset: sizes of the models and of the training, a
        :py:class:`~tricenter.paper.table1.Preset`
    :param seed: seed of the initialisations, batches and PCA
    :param progress: show progress bars
    :param data: name of the data, for the record
    """

    def __init__(
        self,
        frames: list,
        targets: np.ndarray,
        split: Dict[str, np.ndarray],
        out,
        preset,
        seed: int = 0,
        progress: bool = True,
        data: str = "",
    ):
        self.out = Path(out)
        (self.out / "rows").mkdir(parents=True, exist_ok=True)
        self.preset = preset
        self.seed = seed
        self.progress = progress
        self.hypers = PAPER_HYPERS
        self.data = str(data)
        self.split = split
        self.index = {part: frames_of(pairs) for part, pairs in split.items()}
        used = np.concatenate([self.index[p] for p in ("train", "val", "test")])
        self.frames = {i: frames[i] for i in used}
        self.targets = np.asarray(targets)
        types = sorted({int(n) for i in self.index["train"] for n in frames[i].numbers})
        self.atomic_types = types
        self.inputs = TripletInputs(self.hypers, types).to(torch.float64)
        self.triplet_dtype = DTYPES[preset.triplet_dtype]
        self.selection = selection
        #: the training log of each model trained by this object (not read back)
        self.logs: Dict[str, list] = {}
        self.systems, self.triplet_systems = {}, {}
        cutoff = self.inputs.features.cutoff
        for part, indices in self.index.items():
            part_frames = [frames[i] for i in indices]
            self.systems[part] = systems_with_neighbors(part_frames, cutoff)
            self.triplet_systems[part] = (
                self.systems[part]
                if self.triplet_dtype == torch.float64
                else systems_with_neighbors(
                    part_frames, cutoff, dtype=self.triplet_dtype
                )
            )
        self._features()

    @classmethod
    def from_file(cls, data, out, preset, seed: int = 0, progress: bool = True):
        """Read pairs with :py:func:`~tricenter.paper.pairs.load_pairs` and split
        them as ``preset`` says, seeded by ``seed``."""
        frames, targets, _ = load_pairs(data)
        split = split_pairs(
            len(frames) // 2,
            preset.n_train_pairs,
            preset.n_val_pairs,
            preset.n_test_pairs,
            seed,
        )
        return cls(frames, targets, split, out, preset, seed, progress, Path(data).name)

    # ------------------------------------------------------------- cached features
    def _features(self):
        """The density and summed triplets (the ν = 3 invariants) of every centre."""
        self.density, self.summed, self.center_type = {}, {}, {}
        with torch.no_grad():
            for part, systems in self.systems.items():
                densities, summed, types = [], [], []
                for start in range(0, len(systems), 128):
                    batch = systems[start : start + 128]
                    _, d, _, _, _, t = self.inputs(batch, selection(len(batch), [0]))
                    densities.append(d)
                    summed.append(self.inputs.summed(d))
                    types.append(t)
                self.density[part] = torch.cat(densities)
                self.summed[part] = torch.cat(summed)
                self.center_type[part] = torch.cat(types)

    @functools.cached_property
    def nice(self) -> NiceFeatures:
        """ν ≤ 7 features (NICE-style products with PCA), fitted on at most 1000
        training centres; built when a row first needs them."""
        rng = np.random.default_rng(self.seed)
        n_fit = min(len(self.index["train"]), 1000)
        fit_rows = np.sort(rng.choice(len(self.index["train"]), n_fit, replace=False))
        return NiceFeatures(
            self.inputs.features.contraction.max_angular,
            7,
            self.preset.nice_contracted,
            self.preset.nice_outputs,
        ).fit(self.density["train"][fit_rows])

    @functools.cached_property
    def high_order(self) -> Dict[str, torch.Tensor]:
        """``(2 * n_pairs, n_features)`` ν ≤ 7 features of each part."""
        return {p: self.nice.transform(d) for p, d in self.density.items()}

    def targets_of(self, part: str) -> np.ndarray:
        """``(2 * n_pairs,)`` targets of ``"train"``, ``"val"`` or ``"test"``."""
        return self.targets[self.index[part]]

    def systems_of(self, part: str, dtype: torch.dtype) -> list:
        """Systems of a part in ``float64`` or in the triplet models' dtype."""
        return (
            self.systems[part] if dtype == torch.float64 else self.triplet_systems[part]
        )

    # ---------------------------------------------------------------- training
    def options(self, epochs: int) -> OptimConfig:
        """Optimisation of a row trained for ``epochs`` epochs."""
        return OptimConfig(
            epochs=epochs,
            batch_size=self.preset.batch_size,
            learning_rate=1e-3,
            scheduler_patience=10 if epochs > 50 else 3,
            early_stopping=40 if epochs > 50 else max(epochs // 2, 4),
            dtype="float64",
            seed=self.seed,
            progress=self.progress,
        )

    def fit(self, name, module, loss_of_part, epochs):
        """Train ``module`` on the training pairs, validated on the validation
        pairs, resuming from ``out/models/{name}/checkpoint.pt``."""
        groups = {p: np.arange(len(self.index[p])) // 2 for p in ("train", "val")}
        torch.manual_seed(self.seed)
        self.logs[name] = fit(
            module,
            loss_of_part("train"),
            groups["train"],
            loss_of_part("val"),
            groups["val"],
            self.options(epochs),
            self.out / "models" / name,
            resume=True,
            description=name,
        )
        return self.logs[name]

    def set_energy_scales(self, model):
        """Per-type shifts and the energy scale of ``model`` from the training
        targets."""
        frames = [self.frames[i] for i in self.index["train"]]
        fit_energy_scales(model, self.targets_of("train"), frames, [0])

    def cached_energy_loss(self, model, features_of):
        """Loss of an energy model on cached features ``features_of(part, rows)``."""

        def loss_of_part(part):
            targets = torch.as_tensor(self.targets_of(part), dtype=torch.float64)
            center_type = self.center_type[part]

            def loss(batch, training):
                rows = torch.as_tensor(batch, dtype=torch.long)
                predicted = model.energies(features_of(part, rows), center_type[rows])
                value = ((predicted - targets[rows]) / model.energy_scale).pow(2).sum()
                return value, torch.tensor(float(len(batch)))

            return loss

        return loss_of_part

    def system_energy_loss(self, model):
        """Loss of an energy model that computes its features from the systems."""

        def loss_of_part(part):
            systems = self.triplet_systems[part]
            targets = torch.as_tensor(self.targets_of(part), dtype=self.triplet_dtype)

            def loss(batch, training):
                predicted, _ = predict_energies(model, [systems[i] for i in batch], [0])
                rows = torch.as_tensor(batch, dtype=torch.long)
                value = ((predicted - targets[rows]) / model.energy_scale).pow(2).sum()
                return value, torch.tensor(float(len(batch)))

            return loss

        return loss_of_part

    def predict_energies(self, model, part="test", dtype=torch.float64) -> np.ndarray:
        """``(2 * n_pairs,)`` energies of the centres of a part, in eV."""
        systems = self.systems_of(part, dtype)
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                e, _ = predict_energies(model, systems[start : start + 64], [0])
                values.append(e.double().numpy())
        return np.concatenate(values)

    # -------------------------------------------------------------------- rows
    def done(self, name):
        """The stored errors of a finished row, or ``None``."""
        path = self.out / "rows" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def record(self, name, predicted, target, seconds):
        """Store the errors and test predictions of a row."""
        result = pair_metrics(predicted, target)
        # wall time of this process only: a resumed row's earlier runs are not in it
        result["seconds"] = seconds
        # epochs of the row's last training (rows on frozen latents: the head's) and
        # its training time over every run that resumed it
        if name in self.logs:
            result["epochs"] = len(self.logs[name])
            result["training_seconds"] = float(
                sum(entry["time"] for entry in self.logs[name])
            )
        np.save(self.out / "rows" / f"{name}.npy", np.asarray(predicted))
        (self.out / "rows" / f"{name}.json").write_text(json.dumps(result, indent=2))
        return result


__all__ = ["Experiment", "row"]
