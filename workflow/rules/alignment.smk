# Stage: alignment (see workflow/concept_geometry/alignment/).
# Jiang et al. 2024 §5: concept directions in a causal LM's input embedding vs unembedding.
# One job per model in alignment.models; `path: train` models are first trained here.


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
        local_fingerprint=lambda wc: [
            fingerprint(_alignment_spec(wc)),
            fingerprint(_alignment_concepts(wc)),
        ],
        ridge=config["alignment"]["causal_ridge"],
        draws=config["alignment"]["random_pair_draws"],
        null_draws=config["alignment"]["null_draws"],
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
            labels=figure_labels("embedding vs unembedding", "model"),
        ),
        heatmap_pdf="results/alignment/{model}/figures/alignment_heatmap.pdf",
        orth_png=report(
            "results/alignment/{model}/figures/orthogonality.png",
            caption="../report/alignment_orthogonality.rst",
            category="Alignment",
            subcategory="{model}",
            labels=figure_labels("orthogonality", "model"),
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
        "../scripts/stage_summary.py"
