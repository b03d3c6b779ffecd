"""Crystals figures of one layer: 2-D views by relation, PC1 vs length difference, quality."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    from concept_geometry.crystals import plots
    from concept_geometry.plotting import config_caption, save_figure

    v = io.read_npz(smk.input.views)
    dist = io.read_tsv(smk.input.distractors)
    cfg, w = smk.params.cfg, smk.wildcards
    setting = config_caption(
        model=w.model,
        layer=str(v["layer_label"]),
        lda=cfg["lda"]["n_components"],
        cap=cfg["max_pairs_per_relation"],
        seed=smk.params.seed,
    )
    log.info("phase: figures (%s)", setting)
    coords = {k[len("coords_") :]: v[k] for k in v if k.startswith("coords_")}
    save_figure(
        plots.plot_difference_views(
            coords,
            v["relation"][v["eval_index"]],
            f"Relation difference vectors, raw vs LDA (cf. Li et al. Fig. 1)\n{setting}",
        ),
        smk.output.views_png,
        smk.output.views_pdf,
    )
    first = dist[dist["component"] == 1].set_index("variant")
    panels = [
        (
            "faithful: PCA of z-scored input − output (cf. Li et al. Fig. 10)",
            v["pc1_faithful"],
            v["last_subword_chars_diff"],
            "last-subword characters, output − input",
            first.loc["faithful", "corr_last_subword_chars_diff"],
        ),
        (
            "corrected: PCA of centred output − input",
            v["pc1_corrected"],
            v["length_diff"],
            "token-length difference (output − input)",
            first.loc["corrected", "corr_length_diff"],
        ),
    ]
    save_figure(
        plots.plot_pc1_length(panels, f"Distractor: PC1 vs word-length difference\n{setting}"),
        smk.output.length_png,
        smk.output.length_pdf,
    )
    samples = {k[len("sample_") :]: v[k] for k in v if k.startswith("sample_")}
    save_figure(
        plots.plot_quality(
            samples,
            f"Crystal quality, same relation vs mixed-relation baseline "
            f"(held-out pairs)\n{setting}",
        ),
        smk.output.quality_png,
        smk.output.quality_pdf,
    )


run(main, snakemake)  # noqa: F821
