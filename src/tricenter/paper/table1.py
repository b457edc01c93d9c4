"""Table 1 of the paper on bispectrum-degenerate B8 pairs: its ten models.

``tricenter reproduce table1 --data FILE --out DIR [--preset NAME]`` trains the ten
models on a seeded split of the pairs (train / validation / test, partners always
together; PCA, scales and early stopping fitted without the test pairs), and
reports their Mean and Diff errors (:py:func:`~tricenter.paper.metrics.pair_metrics`)
on the test pairs. Every row writes its result under ``DIR/rows`` and is skipped when
run again, and every model trains from its checkpoint under ``DIR/models``, so an
interrupted run resumes.
"""

import dataclasses
import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..models import (
    BispectrumEnergyModel,
    FeatureEnergyModel,
    TripletEnergyModel,
    TripletVectorModel,
)
from ..train.config import Config, DataConfig, ModelConfig, OptimConfig
from .experiment import Experiment, row
from .figures import distortion_figure, latent_sweep_plot, parity_figure
from .metrics import pair_metrics
from .pairs import load_pairs
from .report import write_markdown
from .settings import (
    DESCRIPTIONS,
    PAPER_TABLE1,
    PRESETS,
    ROWS,
    RUN_ORDER,
    Preset,
    check_model_names,
    model_names,
)


class Table1(Experiment):
    """The rows of Table 1, each a method that trains (or reads back) one model;
    see :py:func:`run_table1`."""

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
        systems = self.systems_of(part, dtype)
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                batch = systems[start : start + 64]
                xi, _, _ = model.encoder(batch, self.selection(len(batch), [0]))
                values.append(xi.double())
        return torch.cat(values)

    def _predict_vectors(self, model, dtype):
        systems = self.systems_of("test", dtype)
        values = []
        with torch.no_grad():
            for start in range(0, len(systems), 64):
                batch = systems[start : start + 64]
                y, _, _ = model(batch, self.selection(len(batch), [0]))
                values.append(y.double())
        return torch.cat(values).numpy()

    @row
    def vector_model(self, name, linear: bool, latent: int, epochs: int):
        torch.manual_seed(self.seed)
        model, dtype = self._new_vector_model(linear, latent)
        train = self.triplet_systems["train"] if not linear else self.systems["train"]
        model.encoder.calibrate(train[:64], self.selection(min(64, len(train)), [0]))
        self._set_vector_scales(model)
        self.fit(name, model, self._vector_loss(model, cached=linear), epochs)
        torch.save(model.state_dict(), self.out / "models" / name / "model.pt")
        predicted = self._predict_vectors(model, dtype)
        target = self.high_order["test"].numpy()
        return predicted, target

    def _new_vector_model(self, linear, latent):
        """An A^ρ model (decoding to the ν ≤ 7 features) and its dtype."""

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

    def load_vector_model(self, name, linear, latent):
        model, dtype = self._new_vector_model(linear, latent)
        model.load_state_dict(torch.load(self.out / "models" / name / "model.pt"))
        return model, dtype

    @row
    def latent_energy_model(self, name, source, linear):
        """A_L / A_NL: an energy MLP on the frozen latent features of A^ρ."""

        vector, dtype = self.load_vector_model(source, linear, self.preset.latent)
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
        self.set_energy_scales(model)
        latent = {p: self._latent(vector, p, dtype) for p in ("train", "val")}
        self.fit(
            name,
            model,
            self.cached_energy_loss(model, lambda p, r: latent[p][r]),
            self.preset.epochs,
        )
        predicted = self.predict_energies(model.to(dtype), dtype=dtype)
        return predicted, self.targets_of("test")

    @row
    def triplet_energy_model(self, name, linear: bool):

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
        self.set_energy_scales(model)
        if linear:
            # a linear encoder only sees the summed triplets: train on them (exact)
            loss = self.cached_energy_loss(
                model, lambda p, r: model.encoder.encode_summed(self.summed[p][r])
            )
            epochs = self.preset.epochs
        else:
            loss = self.system_energy_loss(model)
            epochs = self.preset.triplet_epochs
        self.fit(name, model, loss, epochs)
        self._save_energy_model(
            name,
            model,
            "triplet",
            [] if linear else self.preset.encoder_hidden,
            [],
            True,
        )
        predicted = self.predict_energies(model, dtype=dtype)
        return predicted, self.targets_of("test")

    def _save_energy_model(
        self, name, model, kind, encoder_hidden, head_hidden, head_activation
    ):
        """Save in the format of ``tricenter train``, which ``tricenter export``
        reads."""

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

    @row
    def bispectrum_model(self, name, linear: bool):

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
        self.set_energy_scales(model)
        loss = self.cached_energy_loss(
            model, lambda p, r: flat[p][r] * model.input_scale
        )
        self.fit(name, model, loss, self.preset.epochs)
        self._save_energy_model(
            name,
            model,
            "bispectrum",
            [],
            [self.preset.latent] if linear else self.preset.head_hidden,
            not linear,
        )
        predicted = self.predict_energies(model)
        return predicted, self.targets_of("test")

    @row
    def nice_model(self, name, linear: bool):

        torch.manual_seed(self.seed)
        model = FeatureEnergyModel(
            self.nice.n_features(),
            self.atomic_types,
            hidden=[self.preset.latent] if linear else self.preset.head_hidden,
            activation=not linear,
        ).to(torch.float64)
        scale = 1.0 / float(self.high_order["train"].pow(2).mean().sqrt())
        self.set_energy_scales(model)
        loss = self.cached_energy_loss(
            model, lambda p, r: self.high_order[p][r] * scale
        )
        self.fit(name, model, loss, self.preset.epochs)
        with torch.no_grad():
            predicted = model(self.high_order["test"] * scale, self.center_type["test"])
        return predicted.numpy(), self.targets_of("test")

    # -------------------------------------------------------------------- run
    def model(self, name: str) -> dict:
        """Train the model ``name`` of :py:func:`model_names` (or read its finished
        row back) and return its row.

        :raises ValueError: for a name that is not one of :py:func:`model_names`
        """
        preset = self.preset
        check_model_names([name], preset)
        if name in ("D_L", "D_NL"):
            return self.bispectrum_model(name, linear=name == "D_L")
        if name in ("B_L", "B_NL"):
            return self.triplet_energy_model(name, linear=name == "B_L")
        if name in ("C_L", "C_NL"):
            return self.nice_model(name, linear=name == "C_L")
        if name in ("A_L", "A_NL"):
            source = "A_rho_L" if name == "A_L" else "A_rho_NL"
            # the energy model reads its A^ρ model's weights: train that one first
            self.model(source)
            return self.latent_energy_model(name, source, linear=name == "A_L")
        if name == "A_rho_L":
            return self.vector_model(name, True, preset.latent, preset.epochs)
        if name == "A_rho_NL":
            return self.vector_model(name, False, preset.latent, preset.triplet_epochs)
        # the latent sweep: cached linear models converge fast, and the sweep is a
        # trend, not a table
        latent = int(name.rsplit("_q", 1)[1])
        if name.startswith("A_rho_L_q"):
            epochs = min(preset.epochs, 5 * preset.sweep_epochs)
            return self.vector_model(name, True, latent, epochs)
        return self.vector_model(name, False, latent, preset.sweep_epochs)

    def latent_sweep(self) -> dict:
        """Fig. S4: errors of the A^ρ models against the latent size, training the
        models that are not finished.

        :return: ``{"linear" | "nonlinear": {str(q): {"mean", "diff"}}}``
        """
        sweep = {"linear": {}, "nonlinear": {}}
        for q in sorted(set(self.preset.latent_sweep) | {self.preset.latent}):
            suffix = "" if q == self.preset.latent else f"_q{q}"
            for kind, name in (("linear", "A_rho_L"), ("nonlinear", "A_rho_NL")):
                done = self.model(name + suffix)
                sweep[kind][str(q)] = {"mean": done["mean"], "diff": done["diff"]}
        return sweep

    def run(self) -> dict:
        rows = {name: self.model(name) for name in RUN_ORDER}
        return {name: rows[name] for name in ROWS}


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
        :py:func:`~tricenter.paper.pairs.load_pairs`)
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
    table = Table1.from_file(data, out, preset, seed, progress)
    rows = table.run()
    test = table.targets_of("test")
    result = {
        "rows": {
            k: {"mean": v["mean"], "diff": v["diff"], "epochs": v.get("epochs")}
            for k, v in rows.items()
        },
        "paper": PAPER_TABLE1,
        "n_train_pairs": int(len(table.split["train"])),
        "n_val_pairs": int(len(table.split["val"])),
        "n_test_pairs": int(len(table.split["test"])),
        "data": table.data,
        "seed": seed,
        "preset": dataclasses.asdict(preset),
        # wall time of the last run of each row, and training time over all its runs
        "seconds": {k: v["seconds"] for k, v in rows.items()},
        "training_seconds": {k: v.get("training_seconds") for k, v in rows.items()},
        "std_energy_ev": float(np.std(test)),
        "std_pair_difference_ev": float(np.std(test[0::2] - test[1::2])),
    }
    # the table first: a failing figure must not lose it
    _write(result, out, prefix)
    if figures:
        parity_figure(table, out / f"{prefix}-parity.png")
        result["latent_sweep"] = table.latent_sweep()
        latent_sweep_plot(result["latent_sweep"], out / f"{prefix}-latent.png")
        distortion_figure(table, out / f"{prefix}-distortions.png")
        _write(result, out, prefix)
    return result


def run_latent_sweep(
    data,
    out,
    seed: int = 0,
    progress: bool = True,
    preset: Optional[Preset] = None,
    prefix: str = "table1",
) -> dict:
    """Fig. S4 alone: train (or read back) the A^ρ models of every latent size and
    write ``{prefix}-latent.json`` and ``{prefix}-latent.png`` into ``out``. In the
    output directory of a Table 1 run, the A_rho_L and A_rho_NL rows are read back.

    :param data: extxyz file of pairs
    :param out: output directory
    :param seed: seed of the split, the initialisations and the batches
    :param progress: show progress bars
    :param preset: sizes of the run (default: ``full``)
    :param prefix: name of the figure files
    :return: the content of ``{prefix}-latent.json``
    """
    out = Path(out)
    table = Table1.from_file(data, out, preset or PRESETS["full"], seed, progress)
    sweep = table.latent_sweep()
    result = {
        "latent_sweep": sweep,
        "data": table.data,
        "seed": seed,
        "preset": dataclasses.asdict(table.preset),
    }
    (out / f"{prefix}-latent.json").write_text(json.dumps(result, indent=2))
    latent_sweep_plot(sweep, out / f"{prefix}-latent.png")
    return result


def train_models(
    data,
    out,
    names,
    seed: int = 0,
    progress: bool = True,
    preset: Optional[Preset] = None,
) -> dict:
    """Train only the models ``names`` of :py:func:`model_names` (or read their
    finished rows back), so that processes sharing ``out`` can split a run between
    them; a later full run reads their rows back.

    :return: ``{name: row}``
    :raises ValueError: for a name that is not a model of the run
    """
    preset = preset or PRESETS["full"]
    check_model_names(names, preset)
    table = Table1.from_file(data, out, preset, seed, progress)
    return {name: table.model(name) for name in names}


def _write(result: dict, out: Path, prefix: str):
    (out / f"{prefix}.json").write_text(json.dumps(result, indent=2))
    write_markdown(
        result, out / f"{prefix}.md", f"Table 1 on {result['data']}", DESCRIPTIONS
    )


__all__ = [
    "PAPER_TABLE1",
    "PRESETS",
    "Preset",
    "ROWS",
    "Table1",
    "load_pairs",
    "model_names",
    "pair_metrics",
    "run_latent_sweep",
    "run_table1",
    "train_models",
]
