"""The validated config, resolved once: one frozen dataclass per config section.

``workflow/rules/common.smk`` builds ``Settings`` once, right after ``validate_config``. Every
fallback between sections lives here and nowhere else: which layers a stage analyses
(``lobes.layers`` / ``galaxy.layers`` or ``features.layers``), which SAE set galaxy reads
(``galaxy.sae`` or the features SAEs), which model each stage runs (crystals: its own
``crystals.model`` or ``features.model``), and how a model spec or a config path is resolved
against the repository root. Each section's ``raw`` field is the validated section itself
(defaults filled in): rules pass it to scripts unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model_refs import ModelRef, SaeSet, _sae_set, resolve_model_spec, resolve_path  # noqa: F401 (re-exported)

__all__ = [
    "STAGES",
    "ALIGNMENT_TRAIN",
    "ModelRef",
    "SaeSet",
    "Settings",
    "build_settings",
    "resolve_path",
    "resolve_model_spec",
    "stage_layers",
]

# Every stage, in the order rule all lists them and the report joins their summaries.
STAGES = ("simulation", "alignment", "features", "crystals", "lobes", "galaxy", "report")

# alignment.models[].path that means "train the toy model here".
ALIGNMENT_TRAIN = "train"


def stage_layers(config: dict, stage: str) -> list:
    """The layers a stage analyses: ``<stage>.layers``, else ``features.layers`` (lobes,
    galaxy). Tolerates missing sections: the config checks call it before defaults are known."""
    layers = (config.get(stage) or {}).get("layers")
    if layers is None:
        layers = (config.get("features") or {}).get("layers")
    return list(layers or [])


@dataclass(frozen=True)
class SimulationSettings:
    raw: dict
    experiments: tuple
    seeds: tuple


@dataclass(frozen=True)
class AlignmentModel:
    """One entry of alignment.models: ``toy`` when trained here; otherwise ``spec`` (the
    resolved model spec) and ``concepts`` (the resolved word-pair folder)."""

    name: str
    entry: dict
    toy: bool
    spec: str | None
    concepts: str | None


@dataclass(frozen=True)
class AlignmentSettings:
    raw: dict
    models: tuple  # of AlignmentModel

    def model(self, name: str) -> AlignmentModel:
        return next(m for m in self.models if m.name == name)


@dataclass(frozen=True)
class FeaturesSettings:
    raw: dict
    model: ModelRef
    corpus: str  # corpus name (results folder)
    corpus_path: str | None  # a local corpus file, resolved; None otherwise
    layers: tuple
    sae: SaeSet
    sample_layers: tuple  # layers whose activations are sampled to train SAEs
    n_train_tokens: int  # tokens sampled per layer (the largest asked by a trained set)


@dataclass(frozen=True)
class CrystalsSettings:
    raw: dict
    model: ModelRef | None  # None when the stage is off
    layers: tuple  # as path strings ("embed", "3")
    relation_files: tuple
    differences_cfg: dict  # the keys the forward pass depends on (others do not rerun it)


@dataclass(frozen=True)
class LobesSettings:
    raw: dict
    model: str
    corpus: str
    layers: tuple
    measures: tuple


@dataclass(frozen=True)
class GalaxySettings:
    raw: dict
    model: str
    layers: tuple
    sae: SaeSet


@dataclass(frozen=True)
class ReportSettings:
    raw: dict
    stages: tuple  # stages whose summaries are joined (report.stages, else every enabled one)
    paper_values: str


@dataclass(frozen=True)
class Settings:
    root: str
    seed: int
    threads: int
    stages: tuple
    simulation: SimulationSettings
    alignment: AlignmentSettings
    features: FeaturesSettings
    crystals: CrystalsSettings
    lobes: LobesSettings
    galaxy: GalaxySettings
    report: ReportSettings

    def enabled(self, stage: str) -> bool:
        return stage in self.stages

    def sae(self, name: str) -> SaeSet:
        """The SAE set ``features`` or ``galaxy``."""
        return {"features": self.features.sae, "galaxy": self.galaxy.sae}[name]


def _alignment(cfg: dict, root) -> AlignmentSettings:
    models = []
    for entry in cfg["models"]:
        toy = entry["path"] == ALIGNMENT_TRAIN
        models.append(
            AlignmentModel(
                name=entry["name"],
                entry=entry,
                toy=toy,
                spec=None if toy else resolve_model_spec(entry["path"], root),
                concepts=None
                if toy
                else resolve_path(entry.get("concepts", "config/concepts"), root),
            )
        )
    return AlignmentSettings(raw=cfg, models=tuple(models))


def _crystals(config: dict, root) -> CrystalsSettings:
    from .crystals.config import crystals_model

    cfg = config["crystals"]
    model = None
    if "crystals" in config["stages"]:
        own = crystals_model(config)
        model = ModelRef(name=own.name, spec=resolve_model_spec(own.spec, root), key=own.key)
    folder = Path(resolve_path(cfg["relations_dir"], root))
    names = cfg["relations"]
    files = (
        sorted(str(p) for p in folder.glob("*.json"))
        if names is None
        else [str(folder / f"{name}.json") for name in names]
    )
    keys = (
        "model",
        "layer_convention",
        "relations",
        "max_pairs_per_relation",
        "min_pairs_per_relation",
        "batch_size",
    )
    return CrystalsSettings(
        raw=cfg,
        model=model,
        layers=tuple(str(x) for x in cfg["layers"]),
        relation_files=tuple(files),
        differences_cfg={k: cfg[k] for k in keys},
    )


def build_settings(config: dict[str, Any], root) -> Settings:
    """Settings of a config already checked by ``validate_config`` (defaults filled in)."""
    feat = config["features"]
    features_sae = _sae_set("features", feat["sae"], "features.sae", root)
    galaxy_cfg = config["galaxy"]
    galaxy_sae = (
        features_sae
        if not galaxy_cfg.get("sae")
        else _sae_set("galaxy", galaxy_cfg["sae"], "galaxy.sae", root)
    )
    galaxy_layers = tuple(stage_layers(config, "galaxy"))
    trained = [s for s in (features_sae, galaxy_sae) if s.source == "train"]
    sample = set(feat["layers"]) if features_sae.source == "train" else set()
    if galaxy_sae.source == "train":  # galaxy layers outside features.layers need SAEs too
        sample |= set(galaxy_layers)
    features = FeaturesSettings(
        raw=feat,
        model=ModelRef(
            name=feat["model"]["name"],
            spec=resolve_model_spec(feat["model"]["path"], root),
            key="features.model.path",
        ),
        corpus=feat["corpus"]["name"],
        corpus_path=resolve_path(feat["corpus"]["path"], root) if feat["corpus"]["path"] else None,
        layers=tuple(feat["layers"]),
        sae=features_sae,
        sample_layers=tuple(sorted(sample) or feat["layers"]),
        n_train_tokens=max((s.spec["n_train_tokens"] for s in trained), default=1),
    )
    lobes_cfg = config["lobes"]
    report_cfg = config["report"]
    chosen = report_cfg["stages"] if report_cfg["stages"] is not None else config["stages"]
    return Settings(
        root=str(root),
        seed=config["seed"],
        threads=config["threads"],
        stages=tuple(s for s in STAGES if s in config["stages"]),
        simulation=SimulationSettings(
            raw=config["simulation"],
            experiments=tuple(config["simulation"]["experiments"]),
            seeds=tuple(config["simulation"]["seeds"]),
        ),
        alignment=_alignment(config["alignment"], root),
        features=features,
        crystals=_crystals(config, root),
        lobes=LobesSettings(
            raw=lobes_cfg,
            model=features.model.name,
            corpus=features.corpus,
            layers=tuple(stage_layers(config, "lobes")),
            measures=tuple(lobes_cfg["measures"]),
        ),
        galaxy=GalaxySettings(
            raw=galaxy_cfg, model=features.model.name, layers=galaxy_layers, sae=galaxy_sae
        ),
        report=ReportSettings(
            raw=report_cfg,
            stages=tuple(s for s in STAGES if s in chosen and s != "report"),
            paper_values=resolve_path(report_cfg["paper_values"], root),
        ),
    )
