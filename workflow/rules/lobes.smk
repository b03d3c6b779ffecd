# Stage: lobes (Li et al. 2024 Sec. 4, "brain" scale; see workflow/concept_geometry/lobes/).
# Per layer: spectral lobes (all measures and ks) -> tests and specialisation -> figures;
# then one summary of the headline numbers for the report.


include: "lobes_io.smk"


rule lobes_cluster:
    input:
        cooccurrence=f"{FEATURES_DIR}/cooccurrence.npz",
        decoder=f"{FEATURES_DIR}/decoder.npy",
    output:
        labels=f"{LOBES_DIR}/labels.tsv",
    log:
        "logs/lobes/cluster_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/lobes/cluster_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(16000),  # faithful dense at 16k: 11.0 GiB (benchmarks/rehearsal_needs.tsv)
        runtime=scaled(120),
    params:
        expect=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        cfg=lambda wc: LOBES.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/lobes_cluster.py"


rule lobes_tests:
    input:
        labels=f"{LOBES_DIR}/labels.tsv",
        decoder=f"{FEATURES_DIR}/decoder.npy",
    output:
        tests=f"{LOBES_DIR}/tests/{{measure}}.tsv",
    log:
        "logs/lobes/tests_{model}_{corpus}_{layer}_{measure}.log",
    benchmark:
        "results/benchmarks/lobes/tests_{model}_{corpus}_{layer}_{measure}.tsv"
    wildcard_constraints:
        measure="|".join(LOBES.measures),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(240),
    params:
        expect=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        cfg=lambda wc: LOBES.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/lobes_tests.py"


rule lobes_tests_gather:
    input:
        tests=lambda wc: expand(
            f"{LOBES_DIR}/tests/{{measure}}.tsv",
            model=wc.model,
            corpus=wc.corpus,
            layer=wc.layer,
            measure=LOBES.measures,
        ),
    output:
        tests=f"{LOBES_DIR}/tests.tsv",
    log:
        "logs/lobes/tests_gather_{model}_{corpus}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    script:
        "../scripts/lobes_tests_gather.py"


rule lobes_specialization:
    input:
        labels=f"{LOBES_DIR}/labels.tsv",
        firings=f"{FEATURES_DIR}/firings.npz",
        documents=rules.corpus_build.output.documents,
    output:
        specialization=f"{LOBES_DIR}/specialization.tsv",
        code_lobe=f"{LOBES_DIR}/code_lobe.json",
    log:
        "logs/lobes/specialization_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/lobes/specialization_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(60),
    params:
        expect=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        cfg=lambda wc: LOBES.raw,
    script:
        "../scripts/lobes_specialization.py"


rule lobes_embed:
    input:
        decoder=f"{FEATURES_DIR}/decoder.npy",
    output:
        embedding=f"{LOBES_DIR}/embedding_2d.npz",
    log:
        "logs/lobes/embed_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/lobes/embed_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(60),
    params:
        expect=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        cfg=lambda wc: LOBES.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/lobes_embed.py"


rule lobes_figures:
    input:
        labels=f"{LOBES_DIR}/labels.tsv",
        tests=f"{LOBES_DIR}/tests.tsv",
        specialization=f"{LOBES_DIR}/specialization.tsv",
        embedding=f"{LOBES_DIR}/embedding_2d.npz",
        code_lobe=f"{LOBES_DIR}/code_lobe.json",
    output:
        cloud_png=report(
            f"{LOBES_DIR}/figures/feature_cloud.png",
            caption="../report/lobes_feature_cloud.rst",
            category="Lobes",
            subcategory=depth_subcategory(LOBES.layers),
            labels=figure_labels("feature cloud", "model", "corpus", "layer"),
        ),
        cloud_pdf=f"{LOBES_DIR}/figures/feature_cloud.pdf",
        tests_png=report(
            f"{LOBES_DIR}/figures/tests_vs_k.png",
            caption="../report/lobes_tests_vs_k.rst",
            category="Lobes",
            subcategory=depth_subcategory(LOBES.layers),
            labels=figure_labels("AMI and probe vs k", "model", "corpus", "layer"),
        ),
        tests_pdf=f"{LOBES_DIR}/figures/tests_vs_k.pdf",
        spec_png=report(
            f"{LOBES_DIR}/figures/specialization.png",
            caption="../report/lobes_specialization.rst",
            category="Lobes",
            subcategory=depth_subcategory(LOBES.layers),
            labels=figure_labels("specialisation", "model", "corpus", "layer"),
        ),
        spec_pdf=f"{LOBES_DIR}/figures/specialization.pdf",
    log:
        "logs/lobes/figures_{model}_{corpus}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        cfg=lambda wc: LOBES.raw,
    script:
        "../scripts/lobes_figures.py"


rule lobes_explorer:
    input:
        labels=f"{LOBES_DIR}/labels.tsv",
        specialization=f"{LOBES_DIR}/specialization.tsv",
        decoder=f"{FEATURES_DIR}/decoder.npy",
        cooccurrence=f"{FEATURES_DIR}/cooccurrence.npz",
        firings=f"{FEATURES_DIR}/firings.npz",
        contexts=f"{FEATURES_DIR}/top_contexts.npz",
        embedding=f"{LOBES_DIR}/embedding_2d.npz",  # reused when it maps every feature
    output:
        html=report(
            LOBES_EXPLORER,
            caption="../report/lobes_explorer.rst",
            category="Lobes",
            subcategory="Explorer",
            labels={"page": "feature explorer", "layer": "{layer}"},
        ),
    log:
        "logs/lobes/explorer_{model}_{corpus}_{layer}.log",
    benchmark:
        "results/benchmarks/lobes/explorer_{model}_{corpus}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(60),
    params:
        expect=lambda wc: features_identity(wc.model, wc.corpus, wc.layer),
        contexts_expect=lambda wc: top_contexts_identity(wc.model, wc.corpus, wc.layer),
        cfg=lambda wc: LOBES.raw,
        threshold=FEATURES.raw["threshold"],
        seed=SETTINGS.seed,
    script:
        "../scripts/lobes_explorer.py"


rule lobes_summary:
    input:
        tests=lobes_layer_files("tests.tsv"),
        code_lobe=lobes_layer_files("code_lobe.json"),
    output:
        summary="results/summary/lobes.tsv",
    log:
        "logs/lobes/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    params:
        layers=lambda wc: list(LOBES.layers),
        model=lambda wc: LOBES.model,
    script:
        "../scripts/stage_summary.py"
