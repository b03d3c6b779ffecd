import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.galaxy import plots
from concept_geometry.plotting import config_caption, save_figure
from concept_geometry.runner import run


def main(smk, log):
    galaxy, spectrum = io.read_tsv(smk.input.galaxy), io.read_tsv(smk.input.spectrum)
    cfg, model = smk.params.cfg, smk.wildcards.model
    e = cfg["entropy"]
    base = f"{model}, SAE set {smk.params.saeset}"
    log.info("phase: spectra")
    fit = config_caption(
        fit_range="%d-%d" % tuple(cfg["fit_range"]), slope_ci=cfg["slope_ci"]["method"]
    )
    save_figure(
        plots.plot_spectra(
            spectrum, cfg["fit_range"], f"Decoder covariance spectra — {base}\n{fit}"
        ),
        smk.output.spectra_png,
        smk.output.spectra_pdf,
    )
    log.info("phase: slope and volume")
    save_figure(
        plots.plot_slope_volume(galaxy, f"Power-law slope and volume — {base}; {fit}"),
        smk.output.slope_png,
        smk.output.slope_pdf,
    )
    log.info("phase: clustering entropy")
    ent = config_caption(
        n_points=e["n_points"] or "all",
        pca=e["pca_dim"],
        theta=cfg["faithful"]["theta"],
        bootstrap=cfg["faithful"]["bootstrap"],
        k=cfg["corrected"]["k"],
        corrected_pca=cfg["corrected"]["pca_dim"],
        null=cfg["null"]["replicates"],
    )
    save_figure(
        plots.plot_clustering(galaxy, f"Clustering entropy — {base}; {ent}"),
        smk.output.clustering_png,
        smk.output.clustering_pdf,
    )


run(main, snakemake)  # noqa: F821
