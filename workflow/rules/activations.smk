# Stage: features (Paper B's data stage): corpus -> model -> SAE features -> firing sets per
# chunk, co-occurrence counts, decoder matrices. See workflow/concept_geometry/activations/.
rule corpus_build:
    output:
        documents="results/corpus/{corpus}/documents.parquet",
    log:
        "logs/features/corpus_build_{corpus}.log",
    benchmark:
        "results/benchmarks/features/corpus_build_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=lambda wc: FEATURES["corpus"],
        path=(
            repo_path(FEATURES["corpus"]["path"])
            if FEATURES["corpus"]["path"]
            else None
        ),
        # A local corpus replaced in place reruns the stage (fingerprint.py).
        path_fingerprint=lambda wc: corpus_fingerprint(),
        heldout_fraction=FEATURES["heldout_fraction"],
        seed=config["seed"],
    script:
        "../scripts/corpus_build.py"


rule sae_sample_activations:
    input:
        documents="results/corpus/{corpus}/documents.parquet",
    output:
        samples=expand(
            "results/features/{model}/{corpus}/sae_sample/layer_{layer}.npy",
            layer=sample_layers(),
            allow_missing=True,
        ),
    log:
        "logs/features/sae_sample_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/sae_sample_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        layers=sample_layers(),
        model=lambda wc: FEATURES["model"],
        model_spec=features_model_spec(),
        model_fingerprint=lambda wc: fingerprint(features_model_spec()),
        n_tokens=_n_train_tokens(),
        max_length=FEATURES["max_length"],
        drop_special=FEATURES["drop_special_tokens"],
        seed=config["seed"],
    script:
        "../scripts/sae_sample.py"


rule sae_materialise:
    input:
        unpack(_sae_inputs),
    output:
        sae=directory("results/sae/{model}/{saeset}/layer_{layer}"),
        info="results/sae/{model}/{saeset}/layer_{layer}.info.json",
    log:
        "logs/features/sae_materialise_{model}_{saeset}_{layer}.log",
    benchmark:
        "results/benchmarks/features/sae_materialise_{model}_{saeset}_{layer}.tsv"
    wildcard_constraints:
        saeset="features|galaxy",
        layer=r"\d+",
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        spec=lambda wc: _resolved_spec(wc.saeset),
        key=lambda wc: _sae_key(wc.saeset),
        sae_fingerprint=lambda wc: sae_fingerprint(wc.saeset, [wc.layer]),
        model_spec=features_model_spec(),
        model_fingerprint=lambda wc: fingerprint(features_model_spec()),
        seed=config["seed"],
        identity=lambda wc: sae_identity(wc.model, wc.saeset, wc.layer),
    script:
        "../scripts/sae_materialise.py"


rule sae_decoder:
    input:
        unpack(_decoder_inputs),
    output:
        decoder="results/sae/{model}/{saeset}/layer_{layer}.decoder.npy",
    log:
        "logs/features/sae_decoder_{model}_{saeset}_{layer}.log",
    benchmark:
        "results/benchmarks/features/sae_decoder_{model}_{saeset}_{layer}.tsv"
    wildcard_constraints:
        saeset="features|galaxy",
        layer=r"\d+",
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        spec=lambda wc: _resolved_spec(wc.saeset),
        key=lambda wc: _sae_key(wc.saeset),
        sae_fingerprint=lambda wc: sae_fingerprint(wc.saeset, [wc.layer]),
        model_spec=features_model_spec(),
        model_fingerprint=lambda wc: fingerprint(features_model_spec()),
        identity=lambda wc: sae_identity(wc.model, wc.saeset, wc.layer),
    script:
        "../scripts/sae_decoder.py"


rule features_extract:
    input:
        documents="results/corpus/{corpus}/documents.parquet",
        saes=expand(
            "results/sae/{model}/features/layer_{layer}",
            layer=FEATURES["layers"],
            allow_missing=True,
        ),
    output:
        firings=expand(
            "results/features/{model}/{corpus}/layer_{layer}/firings.npz",
            layer=FEATURES["layers"],
            allow_missing=True,
        ),
        contexts=expand(
            "results/features/{model}/{corpus}/layer_{layer}/top_contexts.npz",
            layer=FEATURES["layers"],
            allow_missing=True,
        ),
        stats="results/features/{model}/{corpus}/extract_stats.json",
    log:
        "logs/features/extract_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/extract_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: config["threads"]
    resources:
        mem_mb=16000,
        runtime=720,
    params:
        layers=FEATURES["layers"],
        model=lambda wc: FEATURES["model"],
        model_spec=features_model_spec(),
        model_fingerprint=lambda wc: fingerprint(features_model_spec()),
        sae=lambda wc: _resolved_spec("features"),
        sae_fingerprint=lambda wc: sae_fingerprint("features", FEATURES["layers"]),
        threshold=FEATURES["threshold"],
        chunk_size=FEATURES["chunk_size"],
        max_length=FEATURES["max_length"],
        drop_special=FEATURES["drop_special_tokens"],
        top_contexts=FEATURES["top_contexts"],
        identity=lambda wc: {
            str(layer): features_identity(wc.model, wc.corpus, layer)
            for layer in FEATURES["layers"]
        },
        contexts_identity=lambda wc: {
            str(layer): top_contexts_identity(wc.model, wc.corpus, layer)
            for layer in FEATURES["layers"]
        },
        sae_identity=lambda wc: {
            str(layer): sae_identity(wc.model, "features", layer)
            for layer in FEATURES["layers"]
        },
    script:
        "../scripts/features_extract.py"


rule features_cooccurrence:
    input:
        firings="results/features/{model}/{corpus}/layer_{layer}/firings.npz",
        stats="results/features/{model}/{corpus}/extract_stats.json",
        sae_info="results/sae/{model}/features/layer_{layer}.info.json",
    output:
        cooccurrence="results/features/{model}/{corpus}/layer_{layer}/cooccurrence.npz",
        meta="results/features/{model}/{corpus}/layer_{layer}/meta.json",
    log:
        "logs/features/cooccurrence_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/features/cooccurrence_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        batch=FEATURES["cooccurrence_batch"],
        model_spec=FEATURES["model"]["path"],
        threshold=FEATURES["threshold"],
        chunk_size=FEATURES["chunk_size"],
        max_length=FEATURES["max_length"],
        identity=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        sae_identity=lambda wc: sae_identity(wc.model, "features", wc.layer),
    script:
        "../scripts/features_cooccurrence.py"


rule features_decoder:
    input:
        decoder="results/sae/{model}/features/layer_{layer}.decoder.npy",
    output:
        decoder="results/features/{model}/{corpus}/layer_{layer}/decoder.npy",
    log:
        "logs/features/decoder_{model}_{corpus}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        identity=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        sae_identity=lambda wc: sae_identity(wc.model, "features", wc.layer),
    script:
        "../scripts/features_decoder.py"


rule features_summary:
    input:
        meta=_features_layer_files("meta.json"),
    output:
        summary="results/summary/features.tsv",
    log:
        "logs/features/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/stage_summary.py"
