# Stage: crystals (Li et al. 2024 atom scale; see workflow/concept_geometry/crystals/).
# Per model and layer: word pairs -> residuals -> difference vectors (cached), then the
# analysis tables, the figures; a summary rule writes the headline numbers for the report.
from concept_geometry.crystals import crystals_model
from concept_geometry.seeding import derive_seed

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
    spec = crystals_model(config)[0]
    if spec.startswith("package:") or Path(spec).is_absolute():
        return spec
    local = Path(repo_path(spec))
    return str(local) if local.exists() or spec.startswith((".", "~")) else spec


def crystals_differences_cfg():
    """The config keys the forward pass depends on (others do not re-run it)."""
    keys = ("model", "relations", "max_pairs_per_relation", "min_pairs_per_relation", "batch_size")
    return {k: config["crystals"][k] for k in keys}


def crystals_targets():
    """Final outputs of the crystals stage."""
    base = f"results/crystals/{crystals_model(config)[1]}"
    targets = []
    for layer in crystals_layers():
        d = f"{base}/layer_{layer}"
        targets += [f"{d}/{t}.tsv" for t in ("clusters", "silhouette", "quality", "distractors", "pairs")]
        targets += [f"{d}/differences.npz"]
        targets += [f"{d}/figures/{f}.{ext}" for f in CRYSTALS_FIGURES for ext in ("png", "pdf")]
    return targets + ["results/summary/crystals.tsv"]


rule crystals_differences:
    input:
        relations=crystals_relation_files(),
    output:
        differences="results/crystals/{model}/layer_{layer}/differences.npz",
        pairs="results/crystals/{model}/layer_{layer}/pairs.tsv",
    params:
        cfg=lambda wc: crystals_differences_cfg(),
        model_spec=lambda wc: crystals_model_spec(),
        model_key=lambda wc: crystals_model(config)[2],
        seed=config["seed"],
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    log:
        "logs/crystals/differences_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/differences_{model}_{layer}.tsv"
    conda:
        "../../envs/models.yaml"
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
    params:
        cfg=lambda wc: config["crystals"],
        seed=derive_seed(config["seed"], "crystals", "analysis"),
    # One thread: these are many small BLAS calls, which multi-threading only slows down.
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/crystals/analyse_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/crystals/analyse_{model}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/crystals_analyse.py"


rule crystals_figures:
    input:
        views="results/crystals/{model}/layer_{layer}/views.npz",
        distractors="results/crystals/{model}/layer_{layer}/distractors.tsv",
    output:
        views_png=report("results/crystals/{model}/layer_{layer}/figures/difference_views.png", caption="../report/crystals_difference_views.rst", category="Crystals", subcategory="layer {layer}"),
        views_pdf="results/crystals/{model}/layer_{layer}/figures/difference_views.pdf",
        length_png=report("results/crystals/{model}/layer_{layer}/figures/pc1_length.png", caption="../report/crystals_pc1_length.rst", category="Crystals", subcategory="layer {layer}"),
        length_pdf="results/crystals/{model}/layer_{layer}/figures/pc1_length.pdf",
        quality_png=report("results/crystals/{model}/layer_{layer}/figures/quality.png", caption="../report/crystals_quality.rst", category="Crystals", subcategory="layer {layer}"),
        quality_pdf="results/crystals/{model}/layer_{layer}/figures/quality.pdf",
    params:
        cfg=lambda wc: config["crystals"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/crystals/figures_{model}_{layer}.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/crystals_figures.py"


rule crystals_summary:
    input:
        **{
            name: expand(
                "results/crystals/{model}/layer_{layer}/{name}.tsv",
                model=crystals_model(config)[1] if stage_enabled("crystals") else "none",
                layer=crystals_layers(),
                name=name,
            )
            for name in ("clusters", "silhouette", "quality", "distractors", "pairs")
        },
    output:
        summary="results/summary/crystals.tsv",
    params:
        model=crystals_model(config)[1] if stage_enabled("crystals") else "none",
        layers=crystals_layers(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "logs/crystals/summary.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/crystals_summary.py"
