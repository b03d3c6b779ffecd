# Stage: alignment (see workflow/concept_geometry/alignment/).
# Jiang et al. 2024 §5: concept directions in a causal LM's input embedding vs unembedding.
# One job per model in alignment.models; `path: train` models are first trained here.

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


rule alignment_train_toy:
    output:
        model=directory("results/alignment/{model}/toy_model"),
        concepts=directory("results/alignment/{model}/toy_concepts"),
        curve="results/alignment/{model}/training.tsv",
        info="results/alignment/{model}/training.json",
    log:
        "logs/alignment/train_toy_{model}.log",
    benchmark:
        "results/benchmarks/alignment/train_toy_{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # a tiny model: per-step overhead, not FLOPs, dominates; more threads only contend
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        cfg=lambda wc: config["alignment"]["toy"],
        seed=config["seed"],
    script:
        "../scripts/alignment_train_toy.py"


rule alignment_analyse:
    input:
        unpack(_alignment_inputs),
    output:
        pairs="results/alignment/{model}/pairs.tsv",
        alignment="results/alignment/{model}/alignment.tsv",
        orthogonality="results/alignment/{model}/orthogonality.tsv",
        directions="results/alignment/{model}/directions.npz",
        summary="results/alignment/{model}/summary.json",
    log:
        "logs/alignment/analyse_{model}.log",
    benchmark:
        "results/benchmarks/alignment/analyse_{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: config["threads"]
    resources:
        # A 7B checkpoint: two 32000 x 4096 float32 matrices plus a d x d float64 covariance.
        mem_mb=lambda wc: 3000 if _alignment_is_toy(wc.model) else 12000,
        runtime=60,
    params:
        entry=lambda wc: _alignment_entry(wc.model),
        name=lambda wc: wc.model,
        spec=_alignment_spec,
        concepts=_alignment_concepts,
        ridge=config["alignment"]["causal_ridge"],
        draws=config["alignment"]["random_pair_draws"],
        seed=config["seed"],
    script:
        "../scripts/alignment_analyse.py"


rule alignment_figures:
    input:
        alignment="results/alignment/{model}/alignment.tsv",
        orthogonality="results/alignment/{model}/orthogonality.tsv",
        summary="results/alignment/{model}/summary.json",
    output:
        heatmap_png=report(
            "results/alignment/{model}/figures/alignment_heatmap.png",
            caption="../report/alignment_heatmap.rst",
            category="Alignment",
            subcategory="{model}",
        ),
        heatmap_pdf="results/alignment/{model}/figures/alignment_heatmap.pdf",
        orth_png=report(
            "results/alignment/{model}/figures/orthogonality.png",
            caption="../report/alignment_orthogonality.rst",
            category="Alignment",
            subcategory="{model}",
        ),
        orth_pdf="results/alignment/{model}/figures/orthogonality.pdf",
    log:
        "logs/alignment/figures_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        seed=config["seed"],
    script:
        "../scripts/alignment_figures.py"


rule alignment_summary:
    input:
        summaries=expand(
            "results/alignment/{model}/summary.json",
            model=[m["name"] for m in config["alignment"]["models"]],
        ),
    output:
        table="results/summary/alignment.tsv",
    log:
        "logs/alignment/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        names=[m["name"] for m in config["alignment"]["models"]],
    script:
        "../scripts/alignment_summary.py"
