"""Interactive crystals page of one layer: relation pairs in 2-D, three views."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.explorer import crystals_explorer_page
from concept_geometry.runner import run


def main(smk, log):
    views = io.read_npz(smk.input.views)
    log.info("phase: crystals page of %d held-out pairs", len(views["eval_index"]))
    page = crystals_explorer_page(
        views=views,
        pairs=io.read_tsv(smk.input.pairs),
        title=f"Crystals: {smk.wildcards.model}, layer {views['layer_label']}",
    )
    with io.atomic_path(smk.output.html) as tmp:
        tmp.write_text(page, encoding="utf-8")


run(main, snakemake)  # noqa: F821
