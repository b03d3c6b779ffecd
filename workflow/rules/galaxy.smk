# Stage: galaxy (Li et al. 2024 §5; see workflow/concept_geometry/galaxy/).
# One job per layer (spectrum, slope, volume, clustering entropies and their nulls), then a
# gather rule writes the contract tables, a plot rule the figures, a summary rule the
# headline numbers for the report.


rule galaxy_layer:
    input:
        decoder=lambda wc: f"results/sae/{wc.model}/{galaxy_saeset()}/layer_{wc.layer}.decoder.npy",
    output:
        summary="results/galaxy/{model}/layer_{layer}/galaxy.tsv",
        spectrum="results/galaxy/{model}/layer_{layer}/spectrum.tsv",
    log:
        "logs/galaxy/layer_{model}_{layer}.log",
    benchmark:
        "results/benchmarks/galaxy/layer_{model}_{layer}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: config["threads"]  # BLAS: covariances (bootstrap), k-NN distance products
    resources:
        mem_mb=6000,  # paper: a 65k x 2304 float32 decoder + float64 chunks
        runtime=60,  # paper: ~10-15 min on 8 threads, mostly the slope bootstrap
    params:
        expect=lambda wc: sae_identity(wc.model, galaxy_saeset(), wc.layer),
        cfg=lambda wc: config["galaxy"],
        seed=config["seed"],
    script:
        "../scripts/galaxy_layer.py"


rule galaxy_gather:
    input:
        summaries=lambda wc: expand(
            "results/galaxy/{model}/layer_{layer}/galaxy.tsv",
            model=wc.model,
            layer=galaxy_layers(),
        ),
        spectra=lambda wc: expand(
            "results/galaxy/{model}/layer_{layer}/spectrum.tsv",
            model=wc.model,
            layer=galaxy_layers(),
        ),
    output:
        galaxy="results/galaxy/{model}/galaxy.tsv",
        spectrum="results/galaxy/{model}/spectrum.tsv",
    log:
        "logs/galaxy/gather_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/galaxy_gather.py"


rule galaxy_plots:
    input:
        galaxy="results/galaxy/{model}/galaxy.tsv",
        spectrum="results/galaxy/{model}/spectrum.tsv",
    output:
        spectra_png=report(
            "results/galaxy/{model}/figures/spectra.png",
            caption="../report/galaxy_spectra.rst",
            category="Galaxy",
            labels=figure_labels("eigenvalue spectra", "model"),
        ),
        spectra_pdf="results/galaxy/{model}/figures/spectra.pdf",
        slope_png=report(
            "results/galaxy/{model}/figures/slope_volume.png",
            caption="../report/galaxy_slope_volume.rst",
            category="Galaxy",
            labels=figure_labels("slope and volume", "model"),
        ),
        slope_pdf="results/galaxy/{model}/figures/slope_volume.pdf",
        clustering_png=report(
            "results/galaxy/{model}/figures/clustering.png",
            caption="../report/galaxy_clustering.rst",
            category="Galaxy",
            labels=figure_labels("clustering entropy", "model"),
        ),
        clustering_pdf="results/galaxy/{model}/figures/clustering.pdf",
    log:
        "logs/galaxy/plots_{model}.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        cfg=lambda wc: config["galaxy"],
        saeset=galaxy_saeset(),
    script:
        "../scripts/galaxy_plots.py"


rule galaxy_explorer:
    input:
        galaxy="results/galaxy/{model}/galaxy.tsv",
        spectrum="results/galaxy/{model}/spectrum.tsv",
        decoders=lambda wc: expand(
            "results/sae/{model}/{saeset}/layer_{layer}.decoder.npy",
            model=wc.model,
            saeset=galaxy_saeset(),
            layer=galaxy_layers(),
        ),
    output:
        html=report(
            "results/explorer/{model}/galaxy.html",
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
        mem_mb=8000,
        runtime=30,
    params:
        layers=galaxy_layers(),
        expect=lambda wc: {
            str(layer): sae_identity(wc.model, galaxy_saeset(), layer)
            for layer in galaxy_layers()
        },
        cfg=lambda wc: config["galaxy"],
        saeset=galaxy_saeset(),
        seed=config["seed"],
    script:
        "../scripts/galaxy_explorer.py"


rule galaxy_summary:
    input:
        galaxy=f"results/galaxy/{galaxy_model()}/galaxy.tsv",
    output:
        summary="results/summary/galaxy.tsv",
    log:
        "logs/galaxy/summary.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        model=galaxy_model(),
    script:
        "../scripts/stage_summary.py"
