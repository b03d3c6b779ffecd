# Stage: crystals (Li et al. 2024 atom scale; see workflow/concept_geometry/crystals/).
# Per model and layer: word pairs -> residuals -> difference vectors (cached), then the
# analysis tables, the figures; a summary rule writes the headline numbers for the report.
rule crystals_differences:
    input:
        relations=crystals_relation_files(),
    output:
        differences="results/crystals/{model}/layer_{layer}/differences.npz",
        pairs="results/crystals/{model}/layer_{layer}/pairs.tsv",
    log:
        "logs/crystals/differences_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/differences_{model}_{layer}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        cfg=lambda wc: crystals_differences_cfg(),
        model_spec=lambda wc: crystals_model_spec(),
        model_fingerprint=lambda wc: fingerprint(crystals_model_spec()),
        model_key=lambda wc: crystals_model(config).key,
        seed=config["seed"],
    script:
        "../scripts/crystals_differences.py"


rule crystals_analyse:
    input:
        differences="results/crystals/{model}/layer_{layer}/differences.npz",
    output:
        clusters="results/crystals/{model}/layer_{layer}/clusters.tsv",
        silhouette="results/crystals/{model}/layer_{layer}/silhouette.tsv",
        quality="results/crystals/{model}/layer_{layer}/quality.tsv",
        distractors="results/crystals/{model}/layer_{layer}/distractors.tsv",
        views="results/crystals/{model}/layer_{layer}/views.npz",
    log:
        "logs/crystals/analyse_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/analyse_{model}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    # One thread: these are many small BLAS calls, which multi-threading only slows down.
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        cfg=lambda wc: config["crystals"],
        seed=derive_seed(config["seed"], "crystals", "analysis"),
    script:
        "../scripts/crystals_analyse.py"


rule crystals_figures:
    input:
        views="results/crystals/{model}/layer_{layer}/views.npz",
        distractors="results/crystals/{model}/layer_{layer}/distractors.tsv",
    output:
        views_png=report(
            "results/crystals/{model}/layer_{layer}/figures/difference_views.png",
            caption="../report/crystals_difference_views.rst",
            category="Crystals",
            subcategory=depth_subcategory(crystals_layers()),
            labels=figure_labels("difference views", "model", "layer"),
        ),
        views_pdf="results/crystals/{model}/layer_{layer}/figures/difference_views.pdf",
        length_png=report(
            "results/crystals/{model}/layer_{layer}/figures/pc1_length.png",
            caption="../report/crystals_pc1_length.rst",
            category="Crystals",
            subcategory=depth_subcategory(crystals_layers()),
            labels=figure_labels("PC1 vs length", "model", "layer"),
        ),
        length_pdf="results/crystals/{model}/layer_{layer}/figures/pc1_length.pdf",
        quality_png=report(
            "results/crystals/{model}/layer_{layer}/figures/quality.png",
            caption="../report/crystals_quality.rst",
            category="Crystals",
            subcategory=depth_subcategory(crystals_layers()),
            labels=figure_labels("crystal quality", "model", "layer"),
        ),
        quality_pdf="results/crystals/{model}/layer_{layer}/figures/quality.pdf",
    log:
        "logs/crystals/figures_{model}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg=lambda wc: config["crystals"],
        seed=config["seed"],
    script:
        "../scripts/crystals_figures.py"


rule crystals_explorer:
    input:
        views="results/crystals/{model}/layer_{layer}/views.npz",
        pairs="results/crystals/{model}/layer_{layer}/pairs.tsv",
    output:
        html=report(
            "results/explorer/{model}/crystals_layer_{layer}.html",
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
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/crystals_explorer.py"


rule crystals_summary:
    input:
        **{
            name: expand(
                "results/crystals/{model}/layer_{layer}/{name}.tsv",
                model=(
                    crystals_model(config).name if stage_enabled("crystals") else "none"
                ),
                layer=crystals_layers(),
                name=name,
            )
            for name in ("clusters", "silhouette", "quality", "distractors", "pairs")
        },
    output:
        summary="results/summary/crystals.tsv",
    log:
        "logs/crystals/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        model=crystals_model(config).name if stage_enabled("crystals") else "none",
        layers=crystals_layers(),
        layer_convention=config["crystals"]["layer_convention"],
    script:
        "../scripts/crystals_summary.py"
