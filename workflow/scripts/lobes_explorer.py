"""Interactive, offline feature explorer of one layer -> one self-contained HTML page."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.explorer import layer_explorer_page
from concept_geometry.runner import run


def main(smk, log):
    p, wc = smk.params, smk.wildcards
    decoder = io.read_npy(smk.input.decoder, expect=p.expect)
    cooc = io.read_npz(smk.input.cooccurrence, keys=["occurrences", "n_chunks"], expect=p.expect)
    firings = io.open_npz(smk.input.firings, expect=p.expect)
    chunks = firings.read(keys=["category"])
    contexts = io.read_npz(smk.input.contexts, expect=p.contexts_expect)
    figure_map = io.read_npz(smk.input.embedding)
    log.info(
        "phase: explorer of %d features (map: %s, max_points %s)",
        decoder.shape[0],
        p.cfg["figures"]["embedding"],
        p.cfg["explorer"]["max_points"],
    )
    page = layer_explorer_page(
        decoder=decoder,
        figure_map=(figure_map["feature"], figure_map["coords"]),
        firing_blocks=firings.iter_sparse_rows("firings", block_rows=4096),
        chunk_category=chunks["category"],
        occurrences=cooc["occurrences"],
        n_chunks=int(cooc["n_chunks"]),
        labels=io.read_tsv(smk.input.labels),
        specialization=io.read_tsv(smk.input.specialization),
        contexts=contexts,
        embedding=p.cfg["figures"]["embedding"],
        seed=p.seed,
        max_points=p.cfg["explorer"]["max_points"],
        threshold=p.threshold,
        title=f"Feature explorer: {wc.model}, {wc.corpus}, layer {wc.layer}",
    )
    with io.atomic_path(smk.output.html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("phase: wrote %s (%.1f MB)", smk.output.html, len(page.encode()) / 1e6)


run(main, snakemake)  # noqa: F821
