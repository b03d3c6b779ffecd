# Stage: alignment (see workflow/concept_geometry/alignment/).
# Jiang et al. 2024 §5: concept directions in a causal LM's input embedding vs unembedding.
# One job per model in alignment.models; `path: train` models are first trained here.


include: "alignment_io.smk"


rule alignment_train_toy:
    output:
        model=directory(f"{ALIGN_DIR}/toy_model"),
        concepts=directory(f"{ALIGN_DIR}/toy_concepts"),
        curve=f"{ALIGN_DIR}/training.tsv",
        info=f"{ALIGN_DIR}/training.json",
    log:
        "logs/alignment/train_toy_{model}.log",
    benchmark:
        "results/benchmarks/alignment/train_toy_{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1  # a tiny model: per-step overhead, not FLOPs, dominates; more threads only contend
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(60),
        gpu=1,
    params:
        cfg=lambda wc: SETTINGS.alignment.raw["toy"],
        seed=SETTINGS.seed,
    script:
        "../scripts/alignment_train_toy.py"


rule alignment_analyse:
    input:
        unpack(_alignment_inputs),
    output:
        pairs=f"{ALIGN_DIR}/pairs.tsv",
        alignment=f"{ALIGN_DIR}/alignment.tsv",
        orthogonality=f"{ALIGN_DIR}/orthogonality.tsv",
        directions=f"{ALIGN_DIR}/directions.npz",
        summary=f"{ALIGN_DIR}/summary.json",
    log:
        "logs/alignment/analyse_{model}.log",
    benchmark:
        "results/benchmarks/alignment/analyse_{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: SETTINGS.threads
    resources:
        # Safetensors checkpoints (the hub's Llama-2-7b-hf): only the two 32000 x 4096 matrices
        # are read, 3.7 GiB measured (benchmarks/rehearsal_needs.tsv; toy: 3 GB). A checkpoint
        # without safetensors is loaded whole (7B in float16: ~14 GB): the retries ask 16, 24 GB.
        mem_mb=scaled(lambda wc: 3000 if _alignment_model(wc).toy else 8000),
        runtime=scaled(60),
    params:
        entry=lambda wc: _alignment_model(wc).entry,
        name=lambda wc: wc.model,
        spec=_alignment_spec,
        concepts=_alignment_concepts,
        local_fingerprint=lambda wc: [
            fingerprint(_alignment_spec(wc)),
            fingerprint(_alignment_concepts(wc)),
        ],
        ridge=SETTINGS.alignment.raw["causal_ridge"],
        draws=SETTINGS.alignment.raw["random_pair_draws"],
        null_draws=SETTINGS.alignment.raw["null_draws"],
        seed=SETTINGS.seed,
    script:
        "../scripts/alignment_analyse.py"


rule alignment_figures:
    input:
        alignment=f"{ALIGN_DIR}/alignment.tsv",
        orthogonality=f"{ALIGN_DIR}/orthogonality.tsv",
        summary=f"{ALIGN_DIR}/summary.json",
    output:
        heatmap_png=report(
            f"{ALIGN_DIR}/figures/alignment_heatmap.png",
            caption="../report/alignment_heatmap.rst",
            category="Alignment",
            subcategory="{model}",
            labels=figure_labels("embedding vs unembedding", "model"),
        ),
        heatmap_pdf=f"{ALIGN_DIR}/figures/alignment_heatmap.pdf",
        orth_png=report(
            f"{ALIGN_DIR}/figures/orthogonality.png",
            caption="../report/alignment_orthogonality.rst",
            category="Alignment",
            subcategory="{model}",
            labels=figure_labels("orthogonality", "model"),
        ),
        orth_pdf=f"{ALIGN_DIR}/figures/orthogonality.pdf",
    log:
        "logs/alignment/figures_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        seed=SETTINGS.seed,
    script:
        "../scripts/alignment_figures.py"


rule alignment_summary:
    input:
        summaries=expand(
            rules.alignment_analyse.output.summary,
            model=[m.name for m in SETTINGS.alignment.models],
        ),
    output:
        table="results/summary/alignment.tsv",
    log:
        "logs/alignment/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    params:
        names=[m.name for m in SETTINGS.alignment.models],
    script:
        "../scripts/stage_summary.py"
