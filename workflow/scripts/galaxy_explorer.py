"""Interactive galaxy page of one model (README "Explorer"): spectra and 2-D decoder clouds."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.explorer import galaxy_explorer_page
from concept_geometry.runner import run


def main(smk, log):
    p = smk.params
    decoders = {
        str(layer): io.read_npy(path, mmap=True, expect=p.expect[str(layer)])
        for layer, path in zip(p.layers, smk.input.decoders, strict=False)
    }
    log.info(
        "phase: galaxy page of %d layers (at most %d points each)",
        len(decoders),
        p.cfg["explorer"]["max_points"],
    )
    page = galaxy_explorer_page(
        decoders=decoders,
        spectrum=io.read_tsv(smk.input.spectrum),
        galaxy=io.read_tsv(smk.input.galaxy),
        fit_range=p.cfg["fit_range"],
        max_points=p.cfg["explorer"]["max_points"],
        seed=p.seed,
        title=f"Galaxy: {smk.wildcards.model}, SAE set {p.saeset}",
    )
    with io.atomic_path(smk.output.html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("phase: wrote %s (%.1f MB)", smk.output.html, len(page.encode()) / 1e6)


run(main, snakemake)  # noqa: F821
