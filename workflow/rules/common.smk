# Shared helpers: config validation (before any job), stage switches, target lists.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from concept_geometry.config import ConfigError, validate_config
from concept_geometry.crystals import crystals_model
from concept_geometry.fingerprint import fingerprint, settings_hash
from concept_geometry.seeding import derive_seed

try:
    validate_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except ConfigError as err:
    # One clear paragraph, no traceback, before any job is scheduled.
    raise WorkflowError(str(err)) from None


onstart:
    # Main process only, not in a dry run, before any job: a read-only results/ (or logs/)
    # stops the run with one paragraph instead of Snakemake's error on the first mkdir.
    from concept_geometry.errors import ConceptGeometryError
    from concept_geometry.io import check_writable

    try:
        check_writable(["results", "logs"])
    except ConceptGeometryError as err:
        logger.error(str(err))
        sys.exit(1)


onsuccess:
    # Main process, after a real run that finished: say where the results are and how to
    # build the report (concept_geometry.report.next_steps_message).
    from concept_geometry.report import next_steps_message

    logger.info(next_steps_message("report" in config["stages"]))


# A killed run leaves its lock, "incomplete" markers and temps behind. Parsing touches none of
# it: only the main process of a real run clears them, when a run record proves the run that
# left them dead (concept_geometry.resume).
from concept_geometry import resume

resume.install(workflow, logger)


wildcard_constraints:
    layer=r"[A-Za-z0-9_]+",
    model=r"[A-Za-z0-9_.\-]+",
    corpus=r"[A-Za-z0-9_.\-]+",
    seed=r"\d+",


def stage_enabled(stage):
    """True when `stage` is listed in config['stages']."""
    return stage in config["stages"]


def all_targets():
    """Every final output of the enabled stages (rule all's input)."""
    targets = []
    for stage, fn in [
        ("simulation", simulation_targets),
        ("alignment", alignment_targets),
        ("features", features_targets),
        ("crystals", crystals_targets),
        ("lobes", lobes_targets),
        ("galaxy", galaxy_targets),
        ("report", report_targets),
    ]:
        if stage_enabled(stage):
            targets.extend(fn())
    return targets


def repo_path(path):
    """A config path: absolute as given, else relative to the repository root."""
    p = Path(str(path))
    return str(p if p.is_absolute() else Path(workflow.basedir) / p)


def depth_subcategory(layers):
    """Report sub-folder of a per-layer figure, ordered by depth ("1. layer embed",
    "2. layer 1", ...): the report sorts sub-folders by name, so the depth rank leads.
    """

    def depth(layer):
        return -1 if str(layer) == "embed" else int(layer)

    order = sorted({str(layer) for layer in layers}, key=depth)
    width = len(str(len(order)))

    def name(wildcards):
        rank = order.index(str(wildcards.layer)) + 1
        return f"{rank:0{width}d}. layer {wildcards.layer}"

    return name


def figure_labels(figure, *keys):
    """Report labels of a figure: its name and the wildcards that tell its copies apart."""
    return lambda wc: {"figure": figure, **{key: str(wc[key]) for key in keys}}


def log_path(stage, name):
    """logs/<stage>/<name>.log"""
    return f"logs/{stage}/{name}.log"


def bench_path(stage, name):
    """results/benchmarks/<stage>/<name>.tsv (Snakemake's benchmark: files)."""
    return f"results/benchmarks/{stage}/{name}.tsv"


# --- simulation: input functions and targets (rules in simulation.smk) ---


SIM_FIGURES = ["dynamics", "sweeps", "orthogonality", "mechanism"]


def simulation_jobs(name):
    """Per-job tables `name` (concepts/orthogonality/curves) of every experiment x seed."""
    cfg = config["simulation"]
    return expand(
        "results/simulation/runs/{experiment}/seed_{seed}/{name}.tsv",
        experiment=cfg["experiments"],
        seed=cfg["seeds"],
        name=name,
    )


def simulation_targets():
    """Final outputs of the simulation stage."""
    return [
        "results/simulation/summary.tsv",
        "results/simulation/orthogonality.tsv",
        "results/simulation/curves.tsv",
        "results/simulation/mechanism.tsv",
        "results/summary/simulation.tsv",
    ] + expand(
        "results/figures/simulation_{fig}.{ext}", fig=SIM_FIGURES, ext=["png", "pdf"]
    )


# --- alignment: input functions and targets (rules in alignment.smk) ---


ALIGNMENT_TRAIN = "train"


def _alignment_models():
    return config["alignment"]["models"]


def _alignment_entry(name):
    return next(m for m in _alignment_models() if m["name"] == name)


def _alignment_is_toy(name):
    return _alignment_entry(name)["path"] == ALIGNMENT_TRAIN


def _alignment_spec(wc):
    """The model spec the analysis loads: toy folder, local folder (repo-relative) or hub id."""
    spec = _alignment_entry(wc.model)["path"]
    if spec == ALIGNMENT_TRAIN:
        return f"results/alignment/{wc.model}/toy_model"
    if spec.startswith(("package:",)):
        return spec
    local = Path(repo_path(spec))
    explicit = spec.startswith((".", "~")) or Path(spec).is_absolute()
    return str(local) if explicit or local.exists() else spec


def _alignment_concepts(wc):
    if _alignment_is_toy(wc.model):
        return f"results/alignment/{wc.model}/toy_concepts"
    return repo_path(_alignment_entry(wc.model).get("concepts", "config/concepts"))


def _alignment_inputs(wc):
    if _alignment_is_toy(wc.model):
        base = f"results/alignment/{wc.model}"
        return {
            "model": f"{base}/toy_model",
            "concepts": f"{base}/toy_concepts",
            "training": f"{base}/training.json",
        }
    # The word-pair files (so edits re-run the job); the script names the key if none.
    return {
        "concepts": sorted(str(p) for p in Path(_alignment_concepts(wc)).glob("*.txt"))
    }


def alignment_targets():
    """Final outputs of the alignment stage."""
    out = ["results/summary/alignment.tsv"]
    for m in _alignment_models():
        base = f"results/alignment/{m['name']}"
        out += [
            f"{base}/{f}"
            for f in ("pairs.tsv", "alignment.tsv", "orthogonality.tsv", "summary.json")
        ]
        out += [
            f"{base}/figures/{f}.{ext}"
            for f in ("alignment_heatmap", "orthogonality")
            for ext in ("png", "pdf")
        ]
    return out


# --- activations: input functions and targets (rules in activations.smk) ---


FEATURES = config["features"]
FEAT_DIR = "results/features/{model}/{corpus}"


def sae_spec(saeset):
    """The SAE spec (workflow/schemas/sae.schema.yaml) of an SAE set: `features` or `galaxy`."""
    if saeset == "galaxy" and config.get("galaxy", {}).get("sae"):
        return config["galaxy"]["sae"]
    return FEATURES["sae"]


def _sae_key(saeset):
    return (
        "galaxy.sae"
        if saeset == "galaxy" and config.get("galaxy", {}).get("sae")
        else "features.sae"
    )


def _resolved_spec(saeset):
    """sae_spec with a local `path` made absolute (relative to the repository root)."""
    spec = dict(sae_spec(saeset))
    if spec.get("path"):
        spec["path"] = repo_path(spec["path"])
    return spec


def sae_fingerprint(saeset, layers):
    """Fingerprints of a local SAE's folder per layer (a params entry; None otherwise)."""
    path = _resolved_spec(saeset).get("path")
    if sae_spec(saeset)["source"] != "local" or not path:
        return None
    return [fingerprint(path.replace("{layer}", str(layer))) for layer in layers]


def corpus_fingerprint():
    """Fingerprint of a local corpus file (features.corpus.path), else None."""
    path = FEATURES["corpus"]["path"]
    return fingerprint(repo_path(path) if path else None)


def sae_identity(model, saeset, layer):
    """What the SAE of one layer is (recorded with its files, checked where they are read):
    a params entry of the rules that write it, so a change also reruns them."""
    spec = sae_spec(saeset)
    settings = {
        "sae": _resolved_spec(saeset),
        "sae_files": sae_fingerprint(saeset, [layer]),
        "model": features_model_spec(),
        "model_files": fingerprint(features_model_spec()),
        "seed": config["seed"],
    }
    if spec["source"] == "train":
        keys = ("corpus", "max_length", "drop_special_tokens", "heldout_fraction")
        settings.update({k: FEATURES[k] for k in keys}, n_tokens=_n_train_tokens())
        settings["corpus_file"] = corpus_fingerprint()
    label = {
        "train": f"trained:{saeset}",
        "pretrained": f"{spec.get('release')}/{spec.get('sae_id')}",
        "local": str(spec.get("path")),
    }[spec["source"]]
    return {
        "model": model,
        "layer": str(layer),
        "sae": label.replace("{layer}", str(layer)),
        "config": settings_hash(settings),
    }


def features_identity(model, corpus, layer):
    """What a features artifact of one layer is (firings, co-occurrence, decoder, meta)."""
    sae = sae_identity(model, "features", layer)
    keys = ("corpus", "threshold", "chunk_size", "max_length", "drop_special_tokens")
    settings = {k: FEATURES[k] for k in keys + ("heldout_fraction",)}
    settings.update(sae_config=sae["config"], seed=config["seed"])
    settings["corpus_file"] = corpus_fingerprint()
    return {**sae, "corpus": corpus, "config": settings_hash(settings)}


def top_contexts_identity(model, corpus, layer):
    """What a layer's top_contexts.npz is: the features identity's fields, its hash also
    covering features.top_contexts (which leaves firings and what follows them unchanged).
    """
    ident = features_identity(model, corpus, layer)
    settings = {"features": ident["config"], "top_contexts": FEATURES["top_contexts"]}
    return {**ident, "config": settings_hash(settings)}


def features_model_spec():
    """features.model.path as from_pretrained takes it (local folders resolved to the repo root)."""
    spec = str(FEATURES["model"]["path"])
    if spec.startswith("package:"):
        return spec
    local = Path(repo_path(spec))
    looks_local = Path(spec).is_absolute() or spec.startswith((".", "~"))
    return str(local) if local.exists() or looks_local else spec


def sample_layers():
    """Layers whose activations are sampled for SAE training (one forward pass for all)."""
    layers = set(FEATURES["layers"]) if FEATURES["sae"]["source"] == "train" else set()
    if sae_spec("galaxy")["source"] == "train":
        layers |= set(config.get("galaxy", {}).get("layers") or FEATURES["layers"])
    return sorted(layers) or list(FEATURES["layers"])


def _n_train_tokens():
    specs = [
        sae_spec(s) for s in ("features", "galaxy") if sae_spec(s)["source"] == "train"
    ]
    return max((s["n_train_tokens"] for s in specs), default=1)


def _features_layer_files(name):
    return expand(
        f"{FEAT_DIR}/layer_{{layer}}/{name}",
        model=FEATURES["model"]["name"],
        corpus=FEATURES["corpus"]["name"],
        layer=FEATURES["layers"],
    )


def features_targets():
    """Final outputs of the features (data) stage."""
    return (
        _features_layer_files("firings.npz")
        + _features_layer_files("cooccurrence.npz")
        + _features_layer_files("decoder.npy")
        + _features_layer_files("meta.json")
        + _features_layer_files("top_contexts.npz")
        + ["results/summary/features.tsv"]
    )


def _sae_inputs(wc):
    if sae_spec(wc.saeset)["source"] != "train":
        return {}
    sample = f"results/features/{wc.model}/{FEATURES['corpus']['name']}/sae_sample/layer_{wc.layer}.npy"
    return {"sample": sample}


def _decoder_inputs(wc):
    # Pretrained SAEs are read straight from the hub cache: no copy of e.g. 26 x 65k Gemma Scope SAEs.
    if sae_spec(wc.saeset)["source"] == "pretrained":
        return {}
    return {"sae": f"results/sae/{wc.model}/{wc.saeset}/layer_{wc.layer}"}


# --- crystals: input functions and targets (rules in crystals.smk) ---


CRYSTALS_FIGURES = ("difference_views", "pc1_length", "quality")


def crystals_layers():
    """crystals.layers as path strings ("embed", "3", ...)."""
    return [str(layer) for layer in config["crystals"]["layers"]]


def crystals_relation_files():
    """The relation JSON files read (all in crystals.relations_dir, or those listed)."""
    folder = Path(repo_path(config["crystals"]["relations_dir"]))
    names = config["crystals"]["relations"]
    if names is None:
        return sorted(str(p) for p in folder.glob("*.json"))
    return [str(folder / f"{name}.json") for name in names]


def crystals_model_spec():
    """The model spec, with a relative local folder resolved against the repository root."""
    spec = crystals_model(config).spec
    if spec.startswith("package:") or Path(spec).is_absolute():
        return spec
    local = Path(repo_path(spec))
    return str(local) if local.exists() or spec.startswith((".", "~")) else spec


def crystals_differences_cfg():
    """The config keys the forward pass depends on (others do not re-run it)."""
    keys = (
        "model",
        "layer_convention",
        "relations",
        "max_pairs_per_relation",
        "min_pairs_per_relation",
        "batch_size",
    )
    return {k: config["crystals"][k] for k in keys}


def crystals_targets():
    """Final outputs of the crystals stage."""
    base = f"results/crystals/{crystals_model(config).name}"
    targets = []
    for layer in crystals_layers():
        d = f"{base}/layer_{layer}"
        targets += [
            f"{d}/{t}.tsv"
            for t in ("clusters", "silhouette", "quality", "distractors", "pairs")
        ]
        targets += [f"{d}/differences.npz"]
        targets += [
            f"{d}/figures/{f}.{ext}" for f in CRYSTALS_FIGURES for ext in ("png", "pdf")
        ]
        targets += [
            f"results/explorer/{crystals_model(config).name}/crystals_layer_{layer}.html"
        ]
    return targets + ["results/summary/crystals.tsv"]


# --- lobes: input functions and targets (rules in lobes.smk) ---


LOBES_DIR = "results/lobes/{model}/{corpus}/layer_{layer}"
FEATURES_DIR = "results/features/{model}/{corpus}/layer_{layer}"
LOBES_MEASURES = ["jaccard", "simple_matching", "dice", "overlap", "phi"]
EXPLORER_PAGE = "results/explorer/{model}/{corpus}/layer_{layer}.html"


def lobes_model():
    """Model name used in result paths (the features stage's model)."""
    return config["features"]["model"]["name"]


def lobes_corpus():
    """Corpus name used in result paths (the features stage's corpus)."""
    return config["features"]["corpus"]["name"]


def lobes_layers():
    """lobes.layers, else every layer of features.layers."""
    layers = config["lobes"]["layers"]
    return list(layers if layers is not None else config["features"]["layers"])


def lobes_layer_files(name):
    """One path per analysed layer of the file `name` in the lobes folder."""
    return expand(
        f"{LOBES_DIR}/{name}",
        model=lobes_model(),
        corpus=lobes_corpus(),
        layer=lobes_layers(),
    )


def lobes_targets():
    """Final outputs of the lobes stage: contract tables, figures, summary."""
    figures = [
        f"figures/{name}.{ext}"
        for name in ("feature_cloud", "tests_vs_k", "specialization")
        for ext in ("png", "pdf")
    ]
    targets = []
    for name in [
        "labels.tsv",
        "tests.tsv",
        "specialization.tsv",
        "code_lobe.json",
        *figures,
    ]:
        targets.extend(lobes_layer_files(name))
    explorers = expand(
        EXPLORER_PAGE, model=lobes_model(), corpus=lobes_corpus(), layer=lobes_layers()
    )
    return targets + explorers + ["results/summary/lobes.tsv"]


# --- report: input functions and targets (rules in report.smk) ---


def report_stages():
    """Stages whose summary tables are joined: report.stages, else every enabled stage."""
    listed = config["report"]["stages"]
    order = ["simulation", "alignment", "features", "crystals", "lobes", "galaxy"]
    chosen = listed if listed is not None else config["stages"]
    return [s for s in order if s in chosen]


def report_targets():
    """Final outputs of the report stage."""
    return [
        "results/summary.tsv",
        "results/headline.tsv",
        "results/report/summary.html",
        "results/report/headline.rst",
        "results/report/glossary.html",
    ]


# --- galaxy: input functions and targets (rules in galaxy.smk) ---


def galaxy_model():
    """Model name used in result paths (the features stage's model)."""
    return config["features"]["model"]["name"]


def galaxy_saeset():
    """SAE set analysed: `galaxy` when galaxy.sae names one, else the features SAEs."""
    return "features" if config["galaxy"]["sae"] is None else "galaxy"


def galaxy_layers():
    """galaxy.layers, else features.layers."""
    layers = config["galaxy"]["layers"]
    return list(layers if layers is not None else config["features"]["layers"])


def galaxy_targets():
    """Final outputs of the galaxy stage."""
    base = f"results/galaxy/{galaxy_model()}"
    figures = [
        f"{base}/figures/{name}.{ext}"
        for name in ("spectra", "slope_volume", "clustering")
        for ext in ("png", "pdf")
    ]
    return [
        f"{base}/galaxy.tsv",
        f"{base}/spectrum.tsv",
        *figures,
        f"results/explorer/{galaxy_model()}/galaxy.html",
        "results/summary/galaxy.tsv",
    ]
