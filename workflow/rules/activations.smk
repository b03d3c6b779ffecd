# Stage: features (Paper B's data stage): corpus -> model -> SAE features -> firing sets per
# chunk, co-occurrence counts, decoder matrices. See workflow/concept_geometry/activations/.
from pathlib import Path as _Path

FEATURES = config["features"]
FEAT_DIR = "results/features/{model}/{corpus}"


def sae_spec(saeset):
    """The SAE spec (workflow/schemas/sae.schema.yaml) of an SAE set: `features` or `galaxy`."""
    if saeset == "galaxy" and config.get("galaxy", {}).get("sae"):
        return config["galaxy"]["sae"]
    return FEATURES["sae"]


def _sae_key(saeset):
    return "galaxy.sae" if saeset == "galaxy" and config.get("galaxy", {}).get("sae") else "features.sae"


def _resolved_spec(saeset):
    """sae_spec with a local `path` made absolute (relative to the repository root)."""
    spec = dict(sae_spec(saeset))
    if spec.get("path"):
        spec["path"] = repo_path(spec["path"])
    return spec


def features_model_spec():
    """features.model.path as from_pretrained takes it (local folders resolved to the repo root)."""
    spec = str(FEATURES["model"]["path"])
    if spec.startswith("package:"):
        return spec
    local = _Path(repo_path(spec))
    return str(local) if local.exists() or spec.startswith((".", "/", "~")) else spec


def sample_layers():
    """Layers whose activations are sampled for SAE training (one forward pass for all)."""
    layers = set(FEATURES["layers"]) if FEATURES["sae"]["source"] == "train" else set()
    if sae_spec("galaxy")["source"] == "train":
        layers |= set(config.get("galaxy", {}).get("layers") or FEATURES["layers"])
    return sorted(layers) or list(FEATURES["layers"])


def _n_train_tokens():
    specs = [sae_spec(s) for s in ("features", "galaxy") if sae_spec(s)["source"] == "train"]
    return max((s["n_train_tokens"] for s in specs), default=1)


def _features_layer_files(name):
    return expand(f"{FEAT_DIR}/layer_{{layer}}/{name}", model=FEATURES["model"]["name"],
                  corpus=FEATURES["corpus"]["name"], layer=FEATURES["layers"])


def features_targets():
    """Final outputs of the features (data) stage."""
    return (
        _features_layer_files("firings.npz")
        + _features_layer_files("cooccurrence.npz")
        + _features_layer_files("decoder.npy")
        + _features_layer_files("meta.json")
        + ["results/summary/features.tsv"]
    )


rule corpus_build:
    output:
        documents="results/corpus/{corpus}/documents.parquet",
    params:
        cfg=lambda wc: FEATURES["corpus"],
        path=(repo_path(FEATURES["corpus"]["path"]) if FEATURES["corpus"]["path"] else None),
        heldout_fraction=FEATURES["heldout_fraction"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        "logs/features/corpus_build_{corpus}.log",
    benchmark:
        "results/benchmarks/features/corpus_build_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/corpus_build.py"


rule sae_sample_activations:
    input:
        documents="results/corpus/{corpus}/documents.parquet",
    output:
        samples=expand(FEAT_DIR + "/sae_sample/layer_{layer}.npy", layer=sample_layers(), allow_missing=True),
    params:
        layers=sample_layers(),
        model=lambda wc: FEATURES["model"],
        model_spec=features_model_spec(),
        n_tokens=_n_train_tokens(),
        max_length=FEATURES["max_length"],
        drop_special=FEATURES["drop_special_tokens"],
        seed=config["seed"],
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        "logs/features/sae_sample_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/sae_sample_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/sae_sample.py"


def _sae_inputs(wc):
    if sae_spec(wc.saeset)["source"] != "train":
        return {}
    sample = f"results/features/{wc.model}/{FEATURES['corpus']['name']}/sae_sample/layer_{wc.layer}.npy"
    return {"sample": sample}


rule sae_materialise:
    input:
        unpack(_sae_inputs),
    output:
        sae=directory("results/sae/{model}/{saeset}/layer_{layer}"),
        info="results/sae/{model}/{saeset}/layer_{layer}.info.json",
    wildcard_constraints:
        saeset="features|galaxy",
        layer=r"\d+",
    params:
        spec=lambda wc: _resolved_spec(wc.saeset),
        key=lambda wc: _sae_key(wc.saeset),
        model_spec=features_model_spec(),
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/features/sae_materialise_{model}_{saeset}_{layer}.log",
    benchmark:
        "results/benchmarks/features/sae_materialise_{model}_{saeset}_{layer}.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/sae_materialise.py"


def _decoder_inputs(wc):
    # Pretrained SAEs are read straight from the hub cache: no copy of e.g. 26 x 65k Gemma Scope SAEs.
    if sae_spec(wc.saeset)["source"] == "pretrained":
        return {}
    return {"sae": f"results/sae/{wc.model}/{wc.saeset}/layer_{wc.layer}"}


rule sae_decoder:
    input:
        unpack(_decoder_inputs),
    output:
        decoder="results/sae/{model}/{saeset}/layer_{layer}.decoder.npy",
    wildcard_constraints:
        saeset="features|galaxy",
        layer=r"\d+",
    params:
        spec=lambda wc: _resolved_spec(wc.saeset),
        key=lambda wc: _sae_key(wc.saeset),
        model_spec=features_model_spec(),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/features/sae_decoder_{model}_{saeset}_{layer}.log",
    benchmark:
        "results/benchmarks/features/sae_decoder_{model}_{saeset}_{layer}.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/sae_decoder.py"


rule features_extract:
    input:
        documents="results/corpus/{corpus}/documents.parquet",
        saes=expand("results/sae/{model}/features/layer_{layer}", layer=FEATURES["layers"], allow_missing=True),
    output:
        firings=expand(FEAT_DIR + "/layer_{layer}/firings.npz", layer=FEATURES["layers"], allow_missing=True),
        stats=FEAT_DIR + "/extract_stats.json",
    params:
        layers=FEATURES["layers"],
        model=lambda wc: FEATURES["model"],
        model_spec=features_model_spec(),
        sae=lambda wc: _resolved_spec("features"),
        threshold=FEATURES["threshold"],
        chunk_size=FEATURES["chunk_size"],
        max_length=FEATURES["max_length"],
        drop_special=FEATURES["drop_special_tokens"],
    threads: config["threads"]
    resources:
        mem_mb=16000,
        runtime=720,
    log:
        "logs/features/extract_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/extract_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../scripts/features_extract.py"


rule features_cooccurrence:
    input:
        firings=FEAT_DIR + "/layer_{layer}/firings.npz",
        stats=FEAT_DIR + "/extract_stats.json",
        sae_info="results/sae/{model}/features/layer_{layer}.info.json",
    output:
        cooccurrence=FEAT_DIR + "/layer_{layer}/cooccurrence.npz",
        meta=FEAT_DIR + "/layer_{layer}/meta.json",
    params:
        batch=FEATURES["cooccurrence_batch"],
        model_spec=FEATURES["model"]["path"],
        threshold=FEATURES["threshold"],
        chunk_size=FEATURES["chunk_size"],
        max_length=FEATURES["max_length"],
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    log:
        "logs/features/cooccurrence_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/features/cooccurrence_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/features_cooccurrence.py"


rule features_decoder:
    input:
        decoder="results/sae/{model}/features/layer_{layer}.decoder.npy",
    output:
        decoder=FEAT_DIR + "/layer_{layer}/decoder.npy",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/features/decoder_{model}_{corpus}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/features_decoder.py"


rule features_summary:
    input:
        meta=_features_layer_files("meta.json"),
    output:
        summary="results/summary/features.tsv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        "logs/features/summary.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/features_summary.py"
