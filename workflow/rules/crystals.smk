# Stage: crystals (Li et al. 2024 atom scale; see workflow/concept_geometry/crystals/).
# Per model and layer: word pairs -> residuals -> difference vectors (cached), then the
# analysis tables, the figures; a summary rule writes the headline numbers for the report.


include: "crystals_io.smk"


rule crystals_differences:
    input:
        relations=list(CRYSTALS.relation_files),
    output:
        differences=f"{CRYSTALS_DIR}/differences.npz",
        pairs=f"{CRYSTALS_DIR}/pairs.tsv",
    log:
        "logs/crystals/differences_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/differences_{model}_{layer}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: SETTINGS.threads
    resources:
        mem_mb=scaled(16000),  # host side; float32 gemma-2-2b: ~12 GB (benchmarks/rehearsal_needs.tsv)
        runtime=scaled(60),
        gpu=1,
    params:
        cfg=lambda wc: CRYSTALS.differences_cfg,
        model_spec=lambda wc: CRYSTALS.model.spec,
        model_fingerprint=lambda wc: fingerprint(CRYSTALS.model.spec),
        model_key=lambda wc: CRYSTALS.model.key,
        seed=SETTINGS.seed,
    script:
        "../scripts/crystals_differences.py"


rule crystals_analyse:
    input:
        differences=f"{CRYSTALS_DIR}/differences.npz",
    output:
        clusters=f"{CRYSTALS_DIR}/clusters.tsv",
        silhouette=f"{CRYSTALS_DIR}/silhouette.tsv",
        quality=f"{CRYSTALS_DIR}/quality.tsv",
        distractors=f"{CRYSTALS_DIR}/distractors.tsv",
        views=f"{CRYSTALS_DIR}/views.npz",
    log:
        "logs/crystals/analyse_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/analyse_{model}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    # One thread: these are many small BLAS calls, which multi-threading only slows down.
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(60),
    params:
        cfg=lambda wc: CRYSTALS.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/crystals_analyse.py"


rule crystals_figures:
    input:
        views=f"{CRYSTALS_DIR}/views.npz",
        distractors=f"{CRYSTALS_DIR}/distractors.tsv",
    output:
        views_png=report(
            f"{CRYSTALS_DIR}/figures/difference_views.png",
            caption="../report/crystals_difference_views.rst",
            category="Crystals",
            subcategory=depth_subcategory(CRYSTALS.layers),
            labels=figure_labels("difference views", "model", "layer"),
        ),
        views_pdf=f"{CRYSTALS_DIR}/figures/difference_views.pdf",
        length_png=report(
            f"{CRYSTALS_DIR}/figures/pc1_length.png",
            caption="../report/crystals_pc1_length.rst",
            category="Crystals",
            subcategory=depth_subcategory(CRYSTALS.layers),
            labels=figure_labels("PC1 vs length", "model", "layer"),
        ),
        length_pdf=f"{CRYSTALS_DIR}/figures/pc1_length.pdf",
        quality_png=report(
            f"{CRYSTALS_DIR}/figures/quality.png",
            caption="../report/crystals_quality.rst",
            category="Crystals",
            subcategory=depth_subcategory(CRYSTALS.layers),
            labels=figure_labels("crystal quality", "model", "layer"),
        ),
        quality_pdf=f"{CRYSTALS_DIR}/figures/quality.pdf",
    log:
        "logs/crystals/figures_{model}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        cfg=lambda wc: CRYSTALS.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/crystals_figures.py"


rule crystals_explorer:
    input:
        views=f"{CRYSTALS_DIR}/views.npz",
        pairs=f"{CRYSTALS_DIR}/pairs.tsv",
    output:
        html=report(
            CRYSTALS_EXPLORER,
            caption="../report/crystals_explorer.rst",
            category="Crystals",
            subcategory="layer {layer}",
            labels={"page": "crystals explorer", "layer": "{layer}"},
        ),
    log:
        "logs/crystals/explorer_{model}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    script:
        "../scripts/crystals_explorer.py"


rule crystals_summary:
    input:
        **{name: crystals_layer_files(f"{name}.tsv") for name in CRYSTALS_TABLES},
    output:
        summary="results/summary/crystals.tsv",
    log:
        "logs/crystals/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    params:
        model=CRYSTALS_MODEL,
        layers=list(CRYSTALS.layers),
        layer_convention=CRYSTALS.raw["layer_convention"],
    script:
        "../scripts/stage_summary.py"
