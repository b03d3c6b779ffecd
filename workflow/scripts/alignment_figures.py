"""Alignment heatmap and orthogonality comparison for one model."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.alignment import plots
from concept_geometry.plotting import config_caption, save_figure
from concept_geometry.runner import run


def main(smk, log):
    summary = io.read_json(smk.input.summary)
    name = smk.wildcards.model
    caption = config_caption(
        pairs=summary["n_pairs_kept"], concepts=summary["n_concepts_used"], seed=smk.params.seed
    )
    log.info("phase: alignment heatmap")
    fig = plots.alignment_heatmap(io.read_tsv(smk.input.alignment), summary, name, caption)
    save_figure(fig, smk.output.heatmap_png, smk.output.heatmap_pdf)
    log.info("phase: orthogonality comparison")
    fig = plots.orthogonality_plot(io.read_tsv(smk.input.orthogonality), summary, name, caption)
    save_figure(fig, smk.output.orth_png, smk.output.orth_pdf)


run(main, snakemake)  # noqa: F821
