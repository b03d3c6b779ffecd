# Stage: galaxy (Li et al. 2024 §5; see workflow/concept_geometry/galaxy/).
# One job per layer (spectrum, slope, volume, clustering entropies and their nulls), then a
# gather rule writes the model's galaxy.tsv and spectrum.tsv, a plot rule the figures, a summary rule the
# headline numbers for the report.


include: "galaxy_io.smk"


rule galaxy_layer:
    input:
        decoder=GALAXY_DECODER,
    output:
        summary=f"{GALAXY_LAYER_DIR}/galaxy.tsv",
        spectrum=f"{GALAXY_LAYER_DIR}/spectrum.tsv",
    log:
        "logs/galaxy/layer_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/galaxy/layer_{model}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: SETTINGS.threads  # BLAS: covariances (bootstrap), k-NN distance products
    resources:
        mem_mb=scaled(8000),  # 65k x 2304 float32 decoder + chunks: 1.3-2.6 GiB (rehearsal_needs.tsv)
        runtime=scaled(60),  # rehearsal, 65k: 16 CPU-min on 1 thread, mostly the slope bootstrap
    params:
        expect=lambda wc: sae_identity(wc.model, GALAXY.sae.name, wc.layer),
        cfg=lambda wc: GALAXY.raw,
        seed=SETTINGS.seed,
    script:
        "../scripts/galaxy_layer.py"


rule galaxy_gather:
    input:
        summaries=galaxy_layer_files("galaxy.tsv"),
        spectra=galaxy_layer_files("spectrum.tsv"),
    output:
        galaxy=f"{GALAXY_DIR}/galaxy.tsv",
        spectrum=f"{GALAXY_DIR}/spectrum.tsv",
    log:
        "logs/galaxy/gather_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/galaxy_gather.py"


rule galaxy_plots:
    input:
        galaxy=rules.galaxy_gather.output.galaxy,
        spectrum=rules.galaxy_gather.output.spectrum,
    output:
        spectra_png=report(
            f"{GALAXY_DIR}/figures/spectra.png",
            caption="../report/galaxy_spectra.rst",
            category="Galaxy",
            labels=figure_labels("eigenvalue spectra", "model"),
        ),
        spectra_pdf=f"{GALAXY_DIR}/figures/spectra.pdf",
        slope_png=report(
            f"{GALAXY_DIR}/figures/slope_volume.png",
            caption="../report/galaxy_slope_volume.rst",
            category="Galaxy",
            labels=figure_labels("slope and volume", "model"),
        ),
        slope_pdf=f"{GALAXY_DIR}/figures/slope_volume.pdf",
        clustering_png=report(
            f"{GALAXY_DIR}/figures/clustering.png",
            caption="../report/galaxy_clustering.rst",
            category="Galaxy",
            labels=figure_labels("clustering entropy", "model"),
        ),
        clustering_pdf=f"{GALAXY_DIR}/figures/clustering.pdf",
    log:
        "logs/galaxy/plots_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        cfg=lambda wc: GALAXY.raw,
        saeset=GALAXY.sae.name,
    script:
        "../scripts/galaxy_plots.py"


rule galaxy_explorer:
    input:
        galaxy=rules.galaxy_gather.output.galaxy,
        spectrum=rules.galaxy_gather.output.spectrum,
        decoders=lambda wc: expand(GALAXY_DECODER, model=wc.model, layer=GALAXY.layers),
    output:
        html=report(
            GALAXY_EXPLORER,
            caption="../report/galaxy_explorer.rst",
            category="Galaxy",
            labels={"page": "galaxy explorer"},
        ),
    log:
        "logs/galaxy/explorer_{model}.log",
    benchmark:
        "results/benchmarks/galaxy/explorer_{model}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(8000),
        runtime=scaled(30),
    params:
        layers=list(GALAXY.layers),
        expect=lambda wc: {
            str(layer): sae_identity(wc.model, GALAXY.sae.name, layer)
            for layer in GALAXY.layers
        },
        cfg=lambda wc: GALAXY.raw,
        saeset=GALAXY.sae.name,
        seed=SETTINGS.seed,
    script:
        "../scripts/galaxy_explorer.py"


rule galaxy_summary:
    input:
        galaxy=rules.galaxy_gather.output.galaxy.format(model=GALAXY.model),
    output:
        summary="results/summary/galaxy.tsv",
    log:
        "logs/galaxy/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(5),
    params:
        model=GALAXY.model,
    script:
        "../scripts/stage_summary.py"
