# Stage: features (Paper B's data stage): corpus -> model -> SAE features -> firing sets per
# chunk, co-occurrence counts, decoder matrices. See workflow/concept_geometry/features/.


include: "features_io.smk"


rule corpus_build:
    output:
        documents=CORPUS_FILE,
    log:
        "logs/features/corpus_build_{corpus}.log",
    benchmark:
        "results/benchmarks/features/corpus_build_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(120),
    params:
        cfg=lambda wc: FEATURES.raw["corpus"],
        path=FEATURES.corpus_path,
        # A local corpus replaced in place reruns the stage (fingerprint.py).
        path_fingerprint=lambda wc: corpus_fingerprint(),
        heldout_fraction=FEATURES.raw["heldout_fraction"],
        seed=SETTINGS.seed,
    script:
        "../scripts/corpus_build.py"


rule sae_sample_activations:
    input:
        documents=CORPUS_FILE,
    output:
        samples=expand(SAE_SAMPLE, layer=FEATURES.sample_layers, allow_missing=True),
    log:
        "logs/features/sae_sample_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/sae_sample_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: SETTINGS.threads
    resources:
        mem_mb=scaled(32000),
        runtime=scaled(120),
        gpu=1,
    params:
        layers=list(FEATURES.sample_layers),
        model=lambda wc: FEATURES.raw["model"],
        model_spec=FEATURES.model.spec,
        model_fingerprint=lambda wc: fingerprint(FEATURES.model.spec),
        n_tokens=FEATURES.n_train_tokens,
        max_length=FEATURES.raw["max_length"],
        drop_special=FEATURES.raw["drop_special_tokens"],
        seed=SETTINGS.seed,
    script:
        "../scripts/sae_sample.py"


rule sae_materialise:
    input:
        unpack(_sae_inputs),
    output:
        sae=directory(SAE_DIR),
        info=f"{SAE_DIR}.info.json",
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
        mem_mb=scaled(lambda wc: 32000 if _sae_trained(wc) else 4000),
        runtime=scaled(lambda wc: 240 if _sae_trained(wc) else 30),
        gpu=lambda wc: int(_sae_trained(wc)),
    params:
        spec=lambda wc: SETTINGS.sae(wc.saeset).resolved,
        key=lambda wc: SETTINGS.sae(wc.saeset).key,
        sae_fingerprint=lambda wc: sae_fingerprint(wc.saeset, [wc.layer]),
        model_spec=FEATURES.model.spec,
        model_fingerprint=lambda wc: fingerprint(FEATURES.model.spec),
        seed=SETTINGS.seed,
        identity=lambda wc: sae_identity(wc.model, wc.saeset, wc.layer),
    script:
        "../scripts/sae_materialise.py"


rule sae_decoder:
    input:
        unpack(_decoder_inputs),
    output:
        decoder=f"{SAE_DIR}.decoder.npy",
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
        mem_mb=scaled(3000),  # 65k Gemma Scope decoder: 1.7 GiB peak (benchmarks/rehearsal_needs.tsv)
        runtime=scaled(30),
    params:
        spec=lambda wc: SETTINGS.sae(wc.saeset).resolved,
        key=lambda wc: SETTINGS.sae(wc.saeset).key,
        sae_fingerprint=lambda wc: sae_fingerprint(wc.saeset, [wc.layer]),
        model_spec=FEATURES.model.spec,
        model_fingerprint=lambda wc: fingerprint(FEATURES.model.spec),
        identity=lambda wc: sae_identity(wc.model, wc.saeset, wc.layer),
    script:
        "../scripts/sae_decoder.py"


rule features_extract:
    input:
        documents=CORPUS_FILE,
        saes=expand(sae_path("features"), layer=FEATURES.layers, allow_missing=True),
    output:
        firings=expand(
            f"{FEATURES_DIR}/firings.npz", layer=FEATURES.layers, allow_missing=True
        ),
        contexts=expand(
            f"{FEATURES_DIR}/top_contexts.npz",
            layer=FEATURES.layers,
            allow_missing=True,
        ),
        stats=f"{FEATURES_BASE}/extract_stats.json",
    log:
        "logs/features/extract_{model}_{corpus}.log",
    benchmark:
        "results/benchmarks/features/extract_{model}_{corpus}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: SETTINGS.threads
    resources:
        mem_mb=scaled(16000),  # host side; float32 gemma-2-2b: ~12 GB (benchmarks/rehearsal_needs.tsv)
        runtime=scaled(720),
        gpu=1,
    params:
        layers=list(FEATURES.layers),
        model=lambda wc: FEATURES.raw["model"],
        model_spec=FEATURES.model.spec,
        model_fingerprint=lambda wc: fingerprint(FEATURES.model.spec),
        sae=lambda wc: FEATURES.sae.resolved,
        sae_fingerprint=lambda wc: sae_fingerprint("features", FEATURES.layers),
        threshold=FEATURES.raw["threshold"],
        chunk_size=FEATURES.raw["chunk_size"],
        max_length=FEATURES.raw["max_length"],
        drop_special=FEATURES.raw["drop_special_tokens"],
        top_contexts=FEATURES.raw["top_contexts"],
        identity=lambda wc: {
            str(layer): features_identity(wc.model, wc.corpus, layer)
            for layer in FEATURES.layers
        },
        contexts_identity=lambda wc: {
            str(layer): top_contexts_identity(wc.model, wc.corpus, layer)
            for layer in FEATURES.layers
        },
        sae_identity=lambda wc: {
            str(layer): sae_identity(wc.model, "features", layer)
            for layer in FEATURES.layers
        },
    script:
        "../scripts/features_extract.py"


rule features_cooccurrence:
    input:
        firings=f"{FEATURES_DIR}/firings.npz",
        stats=rules.features_extract.output.stats,
        sae_info=sae_path("features", ".info.json"),
    output:
        cooccurrence=f"{FEATURES_DIR}/cooccurrence.npz",
        meta=f"{FEATURES_DIR}/meta.json",
    log:
        "logs/features/cooccurrence_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/features/cooccurrence_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(16000),
        runtime=scaled(120),
    params:
        batch=FEATURES.raw["cooccurrence_batch"],
        model_spec=FEATURES.raw["model"]["path"],
        threshold=FEATURES.raw["threshold"],
        chunk_size=FEATURES.raw["chunk_size"],
        max_length=FEATURES.raw["max_length"],
        identity=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        sae_identity=lambda wc: sae_identity(wc.model, "features", wc.layer),
    script:
        "../scripts/features_cooccurrence.py"


rule features_decoder:
    input:
        decoder=sae_path("features", ".decoder.npy"),
    output:
        decoder=f"{FEATURES_DIR}/decoder.npy",
    log:
        "logs/features/decoder_{model}_{corpus}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(30),
    params:
        identity=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        sae_identity=lambda wc: sae_identity(wc.model, "features", wc.layer),
    script:
        "../scripts/features_decoder.py"


rule features_summary:
    input:
        meta=lambda wc: features_layer_files("meta.json"),
    output:
        summary="results/summary/features.tsv",
    log:
        "logs/features/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/stage_summary.py"
