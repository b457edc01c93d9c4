"""Reproduction of the paper's Table 1 and figures on bispectrum-degenerate B8 pairs.

``tricenter reproduce table1 --data FILE --out DIR [--quick]`` trains the ten models
of Table 1 on a seeded split of the pairs (train / validation / test, partners always
together; PCA, scales and early stopping fitted without the test pairs), and reports
on the test pairs

.. math::

    \\mathrm{Mean} = \\frac{\\mathrm{rms}\\left(\\frac{\\hat y_+ + \\hat y_-}{2}
        - \\frac{y_+ + y_-}{2}\\right)}{\\mathrm{std}(y)}, \\qquad
    \\mathrm{Diff} = \\frac{\\mathrm{rms}\\left((\\hat y_+ - \\hat y_-)
        - (y_+ - y_-)\\right)}{\\mathrm{std}(y_+ - y_-)}

Every step writes its result under ``DIR/rows`` and is skipped when run again, so an
interrupted run resumes.
"""

import dataclasses
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from ..train.config import ENERGY_UNITS, OptimConfig


#: Table 1 of the paper (Mean, Diff) on its 500 validation pairs
PAPER_TABLE1 = {
    "A_rho_L": {"mean": 0.017, "diff": 1.00},
    "A_rho_NL": {"mean": 0.006, "diff": 0.143},
    "A_L": {"mean": 0.172, "diff": 1.00},
    "A_NL": {"mean": 0.110, "diff": 0.457},
    "B_L": {"mean": 0.385, "diff": 1.00},
    "B_NL": {"mean": 0.017, "diff": 0.199},
    "C_L": {"mean": 0.127, "diff": 0.887},
    "C_NL": {"mean": 0.100, "diff": 0.431},
    "D_L": {"mean": 0.389, "diff": 1.00},
    "D_NL": {"mean": 0.168, "diff": 1.00},
}
ROWS = list(PAPER_TABLE1)
DESCRIPTIONS = {
    "A_rho_L": "linear triplet encoder -> sum -> MLP decoder to ν ≤ 7 features",
    "A_rho_NL": "MLP triplet encoder -> sum -> MLP decoder to ν ≤ 7 features",
    "A_L": "energy MLP on the frozen latent features of A_rho_L",
    "A_NL": "energy MLP on the frozen latent features of A_rho_NL",
    "B_L": "sum of linear triplet energies",
    "B_NL": "sum of MLP triplet energies",
    "C_L": "linear model on ν ≤ 7 NICE features (PCA)",
    "C_NL": "MLP on ν ≤ 7 NICE features (PCA)",
    "D_L": "linear model on the bispectrum (ν = 3)",
    "D_NL": "MLP on the bispectrum (ν = 3)",
}
#: energy of the minimum B8 structure (PBE/cc-pVDZ, Ha), the reference of the targets
PBE_REFERENCE_HA = -198.27291671238572


@dataclass
class Preset:
    """Sizes of a reproduction run.

    :param n_train_pairs: training pairs (the paper: 3500)
    :param n_val_pairs: validation pairs (schedule and early stopping)
    :param n_test_pairs: test pairs, on which the table is reported
    :param latent: width of the latent features (the paper: 128)
    :param encoder_hidden: hidden widths of the non-linear triplet encoder (the
        paper: 512, 512)
    :param decoder_hidden: hidden widths of the decoders (the paper: 512, 512)
    :param head_hidden: hidden widths of the energy MLPs (the paper: 128, 128)
    :param epochs: epochs of models trained on cached features
    :param triplet_epochs: epochs of the non-linear triplet models (B_NL, A_rho_NL)
    :param batch_size: pairs per batch
    :param triplet_dtype: dtype of the non-linear triplet models
    :param nice_contracted: PCA components per block and body order
    :param nice_outputs: number of ν ≤ 7 features (the paper: 8000)
    :param latent_sweep: latent sizes of Fig. S4 (besides ``latent``)
    :param sweep_epochs: epochs of the non-linear sweep models
    :param n_distortion_pairs: pairs of the distortion figure
    """

    n_train_pairs: int = 400
    n_val_pairs: int = 80
    n_test_pairs: int = 250
    latent: int = 128
    encoder_hidden: List[int] = field(default_factory=lambda: [128, 128])
    decoder_hidden: List[int] = field(default_factory=lambda: [512, 512])
    head_hidden: List[int] = field(default_factory=lambda: [128, 128])
    epochs: int = 200
    triplet_epochs: int = 25
    batch_size: int = 16
    triplet_dtype: str = "float32"
    nice_contracted: int = 32
    nice_outputs: int = 256
    latent_sweep: List[int] = field(default_factory=lambda: [8, 32])
    sweep_epochs: int = 6
    n_distortion_pairs: int = 40


PRESETS = {
    "full": Preset(),
    "quick": Preset(
        n_train_pairs=80,
        n_val_pairs=20,
        n_test_pairs=40,
        latent=32,
        encoder_hidden=[32, 32],
        decoder_hidden=[64, 64],
        head_hidden=[32, 32],
        epochs=60,
        triplet_epochs=6,
        batch_size=8,
        triplet_dtype="float64",
        nice_contracted=12,
        nice_outputs=48,
        latent_sweep=[4, 16],
        sweep_epochs=3,
        n_distortion_pairs=12,
    ),
}


# ----------------------------------------------------------------------- metrics
def _std(values: np.ndarray) -> float:
    values = values.reshape(values.shape[0], -1)
    return float(np.sqrt(np.mean((values - values.mean(0)) ** 2)))


def pair_metrics(predicted: np.ndarray, target: np.ndarray) -> Dict[str, float]:
    """Mean and Diff errors (DESIGN.md §3) of predictions for pairs.

    Rows ``2k`` and ``2k + 1`` are the '+' and '−' partners of pair ``k``; vector
    targets are flattened over features.

    >>> y = np.array([1.0, 2.0, 3.0, 5.0])
    >>> pair_metrics(y, y)
    {'mean': 0.0, 'diff': 0.0}
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mean_error = (predicted[0::2] + predicted[1::2]) / 2 - (
        target[0::2] + target[1::2]
    ) / 2
    diff_error = (predicted[0::2] - predicted[1::2]) - (target[0::2] - target[1::2])
    return {
        "mean": float(np.sqrt(np.mean(mean_error**2)) / _std(target)),
        "diff": float(
            np.sqrt(np.mean(diff_error**2)) / _std(target[0::2] - target[1::2])
        ),
    }


# -------------------------------------------------------------------------- data
def load_pairs(path) -> tuple:
    """Frames ordered '+' then '−' per pair, targets in eV and pair labels.

    Understands the paper's PBE file (``energy_ha``, frames ``2k`` / ``2k + 1``)
    and the package's GFN2-xTB file (``pair``, ``partner``, ``target`` in eV).
    """
    from ..train.training import read_frames

    frames = read_frames(path)
    if all("energy_ha" in f.info for f in frames):
        targets = [
            (f.info["energy_ha"] - PBE_REFERENCE_HA) * ENERGY_UNITS["Ha"]
            for f in frames
        ]
        if len(frames) % 2:
            raise ValueError(f"'{path}' has an odd number of frames, not pairs")
        return frames, np.asarray(targets), np.arange(len(frames)) // 2
    if all("target" in f.info and "pair" in f.info for f in frames):
        by_pair: Dict[int, dict] = {}
        for frame in frames:
            by_pair.setdefault(int(frame.info["pair"]), {})[
                str(frame.info.get("partner", len(by_pair)))
            ] = frame
        ordered = []
        for pair in sorted(by_pair):
            partners = by_pair[pair]
            if len(partners) != 2:
                continue
            keys = sorted(partners, key=lambda k: k not in ("+", "plus"))
            ordered.extend(partners[k] for k in keys)
        targets = [float(f.info["target"]) for f in ordered]
        return ordered, np.asarray(targets), np.arange(len(ordered)) // 2
    raise ValueError(
        f"'{path}' has neither 'energy_ha' (PBE pairs) nor 'pair' and 'target' "
        "(tricenter pairs) in every frame"
    )


def split_pairs(n_pairs: int, preset: Preset, seed: int) -> Dict[str, np.ndarray]:
    """Seeded choice of test, validation and training pairs (disjoint)."""
    needed = preset.n_test_pairs + preset.n_val_pairs + 2
    if n_pairs < needed:
        raise ValueError(f"the data has {n_pairs} pairs, this preset needs >= {needed}")
    order = np.random.default_rng(seed).permutation(n_pairs)
    n_test, n_val = preset.n_test_pairs, preset.n_val_pairs
    return {
        "test": np.sort(order[:n_test]),
        "val": np.sort(order[n_test : n_test + n_val]),
        "train": np.sort(order[n_test + n_val : n_test + n_val + preset.n_train_pairs]),
    }


def _frames_of(pairs: np.ndarray) -> np.ndarray:
    return np.stack([2 * pairs, 2 * pairs + 1], axis=1).reshape(-1)


# ------------------------------------------------------------------------ runner
def _row(build):
    """A row of the table: the stored result of a finished row, or ``build`` (which
    returns the test predictions and targets) timed, its errors stored."""

    @functools.wraps(build)
    def run(self, name, *args, **kwargs):
        done = self._done(name)
        if done is not None:
            return done
        start = time.perf_counter()
        predicted, target = build(self, name, *args, **kwargs)
        return self._record(name, predicted, target, time.perf_counter() - start)

    return run


class Table1:
    """One reproduction run; see :py:func:`run_table1`."""

    def __init__(self, data, out, preset: Preset, seed: int = 0, progress: bool = True):
        from ..features.neighbors import systems_with_neighbors
        from ..models import PAPER_HYPERS
        from ..models.inputs import TripletInputs
        from ..train.training import selection

        self.out = Path(out)
        (self.out / "rows").mkdir(parents=True, exist_ok=True)
        self.preset = preset
        self.seed = seed
        self.progress = progress
        self.hypers = PAPER_HYPERS
        frames, targets, _ = load_pairs(data)
        self.data = str(data)
        self.split = split_pairs(len(frames) // 2, preset, seed)
        self.index = {part: _frames_of(pairs) for part, pairs in self.split.items()}
        used = np.concatenate([self.index[p] for p in ("train", "val", "test")])
        self.frames = {i: frames[i] for i in used}
        self.targets = targets
        types = sorted({int(n) for i in self.index["train"] for n in frames[i].numbers})
        self.atomic_types = types
        self.inputs = TripletInputs(self.hypers, types).to(torch.float64)
        self.systems = {}
        self.triplet_dtype = {"float32": torch.float32, "float64": torch.float64}[
            preset.triplet_dtype
        ]
        self.triplet_systems = {}
        for part, indices in self.index.items():
            part_frames = [frames[i] for i in indices]
            self.systems[part] = systems_with_neighbors(
                part_frames, self.inputs.features.cutoff
            )
            self.triplet_systems[part] = (
                self.systems[part]
                if self.triplet_dtype == torch.float64
                else systems_with_neighbors(
                    part_frames, self.inputs.features.cutoff, dtype=self.triplet_dtype
                )
            )
        self.selection = selection
        self._features()

    # ------------------------------------------------------------- cached features
    def _features(self):
        from ..models import NiceFeatures

        self.density, self.summed, self.center_type = {}, {}, {}
        with torch.no_grad():
            for part, systems in self.systems.items():
                densities, summed, types = [], [], []
                for start in range(0, len(systems), 128):
                    batch = systems[start : start + 128]
                    _, d, _, _, _, t = self.inputs(
                        batch, self.selection(len(batch), [0])
                    )
                    densities.append(d)
                    summed.append(self.inputs.summed(d))
                    types.append(t)
                self.density[part] = torch.cat(densities)
                self.summed[part] = torch.cat(summed)
                self.center_type[part] = torch.cat(types)
        rng = np.random.default_rng(self.seed)
        n_fit = min(len(self.index["train"]), 1000)
        fit_rows = np.sort(rng.choice(len(self.index["train"]), n_fit, replace=False))
        self.nice = NiceFeatures(
            self.inputs.features.contraction.max_angular,
            7,
            self.preset.nice_contracted,
            self.preset.nice_outputs,
        ).fit(self.density["train"][fit_rows])
        self.high_order = {p: self.nice.transform(d) for p, d in self.density.items()}

    def targets_of(self, part: str) -> np.ndarray:
        return self.targets[self.index[part]]

    # ---------------------------------------------------------------- training
    def _options(self, epochs: int) -> OptimConfig:
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

    def _fit(self, name, module, loss_of_part, epochs):
        from ..train.training import fit

        groups = {p: np.arange(len(self.index[p])) // 2 for p in ("train", "val")}
        torch.manual_seed(self.seed)
        return fit(
            module,
            loss_of_part("train"),
            groups["train"],
            loss_of_part("val"),
            groups["val"],
            self._options(epochs),
            self.out / "models" / name,
            resume=True,
            description=name,
        )

    def _energy_targets(self, part, dtype=torch.float64):
        return torch.as_tensor(self.targets_of(part), dtype=dtype)

    def _set_energy_scales(self, model):
        from ..train.training import fit_energy_scales

        frames = [self.frames[i] for i in self.index["train"]]
        fit_energy_scales(model, self.targets_of("train"), frames, [0])

    def _cached_energy_loss(self, model, features_of):
        def loss_of_part(part):
            targets = self._energy_targets(part)
            center_type = self.center_type[part]

            def loss(batch, training):
                rows = torch.as_tensor(batch, dtype=torch.long)
                predicted = model.energies(features_of(part, rows), center_type[rows])
                value = ((predicted - targets[rows]) / model.energy_scale).pow(2).sum()
                return value, torch.tensor(float(len(batch)))

            return loss

        return loss_of_part

    def _system_energy_loss(self, model):
        from ..train.training import predict_energies

        def loss_of_part(part):
            systems = self.triplet_systems[part]
            targets = self._energy_targets(part, self.triplet_dtype)

            def loss(batch, training):
                predicted, _ = predict_energies(model, [systems[i] for i in batch], [0])
                rows = torch.as_tensor(batch, dtype=torch.long)
                value = ((predicted - targets[rows]) / model.energy_scale).pow(2).sum()
                return value, torch.tensor(float(len(batch)))

            return loss

        return loss_of_part

    def _predict_energies(self, model, part="test", dtype=torch.float64):
        from ..train.training import predict_energies

        systems = (
            self.systems[part] if dtype == torch.float64 else self.triplet_systems[part]
        )
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                e, _ = predict_energies(model, systems[start : start + 64], [0])
                values.append(e.double().numpy())
        return np.concatenate(values)

    def _vector_targets(self, model, part):
        return (
            self.high_order[part] - model.output_shift.double()
        ) / model.output_scale.double()

    def _set_vector_scales(self, model):
        target = self.high_order["train"]
        with torch.no_grad():
            model.output_shift.copy_(target.mean(0))
            model.output_scale.fill_(
                float((target - target.mean(0)).pow(2).mean().sqrt())
            )

    def _vector_loss(self, model, cached: bool):
        def loss_of_part(part):
            target = self._vector_targets(model, part)
            center_type = self.center_type[part]

            def loss(batch, training):
                rows = torch.as_tensor(batch, dtype=torch.long)
                if cached:
                    xi = model.encoder.encode_summed(self.summed[part][rows])
                    predicted = model.decode(xi, center_type[rows])
                else:
                    systems = [self.triplet_systems[part][i] for i in batch]
                    predicted, _, _ = model(systems, self.selection(len(batch), [0]))
                raw = (predicted - model.output_shift) / model.output_scale
                value = (raw - target[rows].to(raw.dtype)).pow(2).mean(1).sum()
                return value, torch.tensor(float(len(batch)))

            return loss

        return loss_of_part

    def _latent(self, model, part, dtype):
        systems = (
            self.systems[part] if dtype == torch.float64 else self.triplet_systems[part]
        )
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                batch = systems[start : start + 64]
                xi, _, _ = model.encoder(batch, self.selection(len(batch), [0]))
                values.append(xi.double())
        return torch.cat(values)

    def _predict_vectors(self, model, dtype):
        systems = (
            self.systems["test"]
            if dtype == torch.float64
            else self.triplet_systems["test"]
        )
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                batch = systems[start : start + 64]
                y, _, _ = model(batch, self.selection(len(batch), [0]))
                values.append(y.double())
        return torch.cat(values).numpy()

    # -------------------------------------------------------------------- rows
    def _done(self, name):
        path = self.out / "rows" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _record(self, name, predicted, target, seconds):
        row = pair_metrics(predicted, target)
        row["seconds"] = seconds
        np.save(self.out / "rows" / f"{name}.npy", np.asarray(predicted))
        (self.out / "rows" / f"{name}.json").write_text(json.dumps(row, indent=2))
        return row

    @_row
    def vector_model(self, name, linear: bool, latent: int, epochs: int):
        torch.manual_seed(self.seed)
        model, dtype = self._new_vector_model(linear, latent)
        train = self.triplet_systems["train"] if not linear else self.systems["train"]
        model.encoder.calibrate(train[:64], self.selection(min(64, len(train)), [0]))
        self._set_vector_scales(model)
        self._fit(name, model, self._vector_loss(model, cached=linear), epochs)
        torch.save(model.state_dict(), self.out / "models" / name / "model.pt")
        predicted = self._predict_vectors(model, dtype)
        target = self.high_order["test"].numpy()
        return predicted, target

    def _new_vector_model(self, linear, latent):
        """An A^ρ model (decoding to the ν ≤ 7 features) and its dtype."""
        from ..models import TripletVectorModel

        dtype = torch.float64 if linear else self.triplet_dtype
        model = TripletVectorModel(
            self.hypers,
            self.atomic_types,
            self.nice.n_features(),
            latent=latent,
            encoder_hidden=[] if linear else self.preset.encoder_hidden,
            decoder_hidden=self.preset.decoder_hidden,
        ).to(dtype)
        return model, dtype

    def _load_vector_model(self, name, linear, latent):
        model, dtype = self._new_vector_model(linear, latent)
        model.load_state_dict(torch.load(self.out / "models" / name / "model.pt"))
        return model, dtype

    @_row
    def latent_energy_model(self, name, source, linear):
        """A_L / A_NL: an energy MLP on the frozen latent features of A^ρ."""
        from ..models import TripletEnergyModel

        vector, dtype = self._load_vector_model(source, linear, self.preset.latent)
        torch.manual_seed(self.seed)
        model = TripletEnergyModel(
            self.hypers,
            self.atomic_types,
            latent=self.preset.latent,
            encoder_hidden=[] if linear else self.preset.encoder_hidden,
            head_hidden=self.preset.head_hidden,
        ).to(dtype)
        model.encoder.load_state_dict(vector.encoder.state_dict())
        model.encoder.requires_grad_(False)
        model = model.to(torch.float64)
        self._set_energy_scales(model)
        latent = {p: self._latent(vector, p, dtype) for p in ("train", "val")}
        self._fit(
            name,
            model,
            self._cached_energy_loss(model, lambda p, r: latent[p][r]),
            self.preset.epochs,
        )
        predicted = self._predict_energies(model.to(dtype), dtype=dtype)
        return predicted, self.targets_of("test")

    @_row
    def triplet_energy_model(self, name, linear: bool):
        from ..models import TripletEnergyModel

        dtype = torch.float64 if linear else self.triplet_dtype
        torch.manual_seed(self.seed)
        model = TripletEnergyModel(
            self.hypers,
            self.atomic_types,
            latent=self.preset.latent,
            encoder_hidden=[] if linear else self.preset.encoder_hidden,
            head_hidden=[],
        ).to(dtype)
        train = self.systems["train"] if linear else self.triplet_systems["train"]
        model.encoder.calibrate(train[:64], self.selection(min(64, len(train)), [0]))
        self._set_energy_scales(model)
        if linear:
            # a linear encoder only sees the summed triplets: train on them (exact)
            loss = self._cached_energy_loss(
                model, lambda p, r: model.encoder.encode_summed(self.summed[p][r])
            )
            epochs = self.preset.epochs
        else:
            loss = self._system_energy_loss(model)
            epochs = self.preset.triplet_epochs
        self._fit(name, model, loss, epochs)
        self._save_energy_model(
            name,
            model,
            "triplet",
            [] if linear else self.preset.encoder_hidden,
            [],
            True,
        )
        predicted = self._predict_energies(model, dtype=dtype)
        return predicted, self.targets_of("test")

    def _save_energy_model(
        self, name, model, kind, encoder_hidden, head_hidden, head_activation
    ):
        """Save in the format of ``tricenter train``, which ``tricenter export``
        reads."""
        from ..train.config import Config, DataConfig, ModelConfig, OptimConfig

        dtype = next(model.parameters()).dtype
        config = Config(
            data=DataConfig(path=self.data, selected_atoms=[0]),
            model=ModelConfig(
                type=kind,
                hypers=self.hypers,
                atomic_types=self.atomic_types,
                latent=self.preset.latent,
                encoder_hidden=list(encoder_hidden),
                head_hidden=list(head_hidden),
                head_activation=head_activation,
            ),
            training=OptimConfig(dtype=str(dtype).replace("torch.", "")),
        )
        torch.save(
            {
                "state_dict": model.state_dict(),
                "config": dataclasses.asdict(config),
                "atomic_types": self.atomic_types,
            },
            self.out / "models" / name / "model.pt",
        )

    @_row
    def bispectrum_model(self, name, linear: bool):
        from ..models import BispectrumEnergyModel

        torch.manual_seed(self.seed)
        model = BispectrumEnergyModel(
            self.hypers,
            self.atomic_types,
            head_hidden=[self.preset.latent] if linear else self.preset.head_hidden,
            head_activation=not linear,
        ).to(torch.float64)
        flat = {p: s.reshape(s.shape[0], -1) for p, s in self.summed.items()}
        with torch.no_grad():
            model.input_scale.fill_(1.0 / float(flat["train"].pow(2).mean().sqrt()))
        self._set_energy_scales(model)
        loss = self._cached_energy_loss(
            model, lambda p, r: flat[p][r] * model.input_scale
        )
        self._fit(name, model, loss, self.preset.epochs)
        self._save_energy_model(
            name,
            model,
            "bispectrum",
            [],
            [self.preset.latent] if linear else self.preset.head_hidden,
            not linear,
        )
        predicted = self._predict_energies(model)
        return predicted, self.targets_of("test")

    @_row
    def nice_model(self, name, linear: bool):
        from ..models import FeatureEnergyModel

        torch.manual_seed(self.seed)
        model = FeatureEnergyModel(
            self.nice.n_features(),
            self.atomic_types,
            hidden=[self.preset.latent] if linear else self.preset.head_hidden,
            activation=not linear,
        ).to(torch.float64)
        scale = 1.0 / float(self.high_order["train"].pow(2).mean().sqrt())
        self._set_energy_scales(model)
        loss = self._cached_energy_loss(
            model, lambda p, r: self.high_order[p][r] * scale
        )
        self._fit(name, model, loss, self.preset.epochs)
        with torch.no_grad():
            predicted = model(self.high_order["test"] * scale, self.center_type["test"])
        return predicted.numpy(), self.targets_of("test")

    # -------------------------------------------------------------------- run
    def run(self) -> dict:
        preset = self.preset
        rows = {}
        # the decisive comparison first: bispectrum vs triplet energies
        rows["D_L"] = self.bispectrum_model("D_L", linear=True)
        rows["B_L"] = self.triplet_energy_model("B_L", linear=True)
        rows["B_NL"] = self.triplet_energy_model("B_NL", linear=False)
        rows["D_NL"] = self.bispectrum_model("D_NL", linear=False)
        rows["C_L"] = self.nice_model("C_L", linear=True)
        rows["C_NL"] = self.nice_model("C_NL", linear=False)
        rows["A_rho_L"] = self.vector_model(
            "A_rho_L", True, preset.latent, preset.epochs
        )
        rows["A_L"] = self.latent_energy_model("A_L", "A_rho_L", linear=True)
        rows["A_rho_NL"] = self.vector_model(
            "A_rho_NL", False, preset.latent, preset.triplet_epochs
        )
        rows["A_NL"] = self.latent_energy_model("A_NL", "A_rho_NL", linear=False)
        rows = {name: rows[name] for name in ROWS}
        result = {
            "rows": {
                k: {"mean": v["mean"], "diff": v["diff"]} for k, v in rows.items()
            },
            "paper": PAPER_TABLE1,
            "n_train_pairs": int(len(self.split["train"])),
            "n_val_pairs": int(len(self.split["val"])),
            "n_test_pairs": int(len(self.split["test"])),
            "data": Path(self.data).name,
            "seed": self.seed,
            "preset": dataclasses.asdict(preset),
            "seconds": {k: v["seconds"] for k, v in rows.items()},
            "std_energy_ev": float(np.std(self.targets_of("test"))),
            "std_pair_difference_ev": float(
                np.std(self.targets_of("test")[0::2] - self.targets_of("test")[1::2])
            ),
        }
        return result


def write_markdown(result: dict, path: Path, title: str):
    """``table1.md``: our rows next to the paper's."""
    lines = [
        f"# {title}",
        "",
        f"Data: `{result['data']}`; {result['n_train_pairs']} training, "
        f"{result['n_val_pairs']} validation and {result['n_test_pairs']} test pairs "
        "(the paper: 3500 training pairs, 500 validation pairs on which it reports). "
        "Errors on the test pairs, relative to the std of the targets (Mean) and of "
        "the pair differences (Diff).",
        "",
        "| model | architecture | Mean | Diff | paper Mean | paper Diff |",
        "|---|---|---|---|---|---|",
    ]
    for name in ROWS:
        ours = result["rows"][name]
        paper = result["paper"][name]
        label = name.replace("A_rho", "A^ρ")
        if ours["mean"] is None:
            values = "not run | not run"
        else:
            values = f"{ours['mean']:.3f} | {ours['diff']:.3f}"
        lines.append(
            f"| {label} | {DESCRIPTIONS[name]} | {values} "
            f"| {paper['mean']:.3f} | {paper['diff']:.3f} |"
        )
    lines.append("")
    if "std_energy_ev" in result:
        lines += [
            f"std of the test energies: {result['std_energy_ev']:.3f} eV; std of the "
            f"pair differences: {result['std_pair_difference_ev']:.3f} eV.",
            "",
        ]
    path.write_text("\n".join(lines))


def run_table1(
    data,
    out,
    quick: bool = False,
    seed: int = 0,
    figures: bool = True,
    progress: bool = True,
    preset: Optional[Preset] = None,
    prefix: str = "table1",
) -> dict:
    """Train the ten models of Table 1 and write ``{prefix}.json``, ``{prefix}.md``
    and the figures into ``out``.

    :param data: extxyz file of pairs (PBE or tricenter format, see
        :py:func:`load_pairs`)
    :param out: output directory
    :param quick: use the ``quick`` preset (minutes on 2 cores)
    :param seed: seed of the split, the initialisations and the batches
    :param figures: also write the figures
    :param progress: show progress bars
    :param preset: explicit sizes (overrides ``quick``)
    :param prefix: name of the table files
    :return: the content of ``{prefix}.json``
    """
    preset = preset or PRESETS["quick" if quick else "full"]
    out = Path(out)
    table = Table1(data, out, preset, seed, progress)
    result = table.run()
    # the table first: a failing figure must not lose it
    (out / f"{prefix}.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / f"{prefix}.md", f"Table 1 on {result['data']}")
    if figures:
        from .figures import distortion_figure, latent_sweep_figure, parity_figure

        parity_figure(table, out / f"{prefix}-parity.png")
        result["latent_sweep"] = latent_sweep_figure(
            table, out / f"{prefix}-latent.png"
        )
        distortion_figure(table, out / f"{prefix}-distortions.png")
    (out / f"{prefix}.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / f"{prefix}.md", f"Table 1 on {result['data']}")
    return result


def collect_table1(out, prefix: str = "table1", data: str = "", quick: bool = False):
    """Write ``{prefix}.json`` and ``{prefix}.md`` from the rows an interrupted run
    has finished (missing rows are ``null``), without training anything.

    :param out: output directory of the run
    :param prefix: name of the table files
    :param data: name of the data file, for the record
    :param quick: whether the run used the ``quick`` preset
    """
    out = Path(out)
    preset = PRESETS["quick" if quick else "full"]
    rows = {}
    for name in ROWS:
        path = out / "rows" / f"{name}.json"
        if path.exists():
            values = json.loads(path.read_text())
            rows[name] = {"mean": values["mean"], "diff": values["diff"]}
        else:
            rows[name] = {"mean": None, "diff": None}
    result = {
        "rows": rows,
        "paper": PAPER_TABLE1,
        "n_train_pairs": preset.n_train_pairs,
        "n_val_pairs": preset.n_val_pairs,
        "n_test_pairs": preset.n_test_pairs,
        "data": Path(data).name,
        "preset": dataclasses.asdict(preset),
        "complete": all(v["mean"] is not None for v in rows.values()),
    }
    (out / f"{prefix}.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / f"{prefix}.md", f"Table 1 on {result['data']}")
    return result


# ------------------------------------------------------------------------------ CLI
def add_cli_arguments(parser):
    """Arguments of ``tricenter reproduce``."""
    parser.add_argument("what", choices=["table1"], help="what to reproduce")
    parser.add_argument("--data", required=True, help="extxyz file of B8 pairs")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--quick", action="store_true", help="small preset (minutes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything")
    parser.add_argument("--prefix", default="table1", help="name of the outputs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="only write the table from the rows an interrupted run finished",
    )


def run_cli(args) -> int:
    """Run ``tricenter reproduce``."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.collect:
        result = collect_table1(args.out, args.prefix, args.data, args.quick)
        print(f"written to {Path(args.out) / (args.prefix + '.json')}")
        return 0
    result = run_table1(
        args.data,
        args.out,
        quick=args.quick,
        seed=args.seed,
        progress=not args.no_progress,
        prefix=args.prefix,
    )
    print(f"{'model':10s} {'Mean':>7s} {'Diff':>7s}   paper Mean   Diff")
    for name in ROWS:
        ours, paper = result["rows"][name], result["paper"][name]
        print(
            f"{name:10s} {ours['mean']:7.3f} {ours['diff']:7.3f}   "
            f"{paper['mean']:10.3f} {paper['diff']:6.3f}"
        )
    print(f"written to {Path(args.out) / (args.prefix + '.json')}")
    return 0


__all__ = ["run_table1", "pair_metrics", "load_pairs", "PRESETS", "Preset"]
