import _workflow_path  # first: puts workflow/ (the package) on sys.path

import sys

import pandas as pd
from tqdm import tqdm

from concept_geometry import io
from concept_geometry.galaxy import GALAXY_COLUMNS, analyse_layer
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: load decoder %s", smk.input.decoder)
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    layer = int(smk.wildcards.layer)
    result = analyse_layer(
        decoder,
        layer,
        smk.params.cfg,
        smk.params.seed,
        progress=lambda it: tqdm(it, file=sys.stderr, mininterval=5),
        log=log,
    )
    s = result.summary
    log.info(
        "layer %d: slope %.3f [%.3f, %.3f] (null %.3f); clustering faithful %.1f (null %.1f, "
        "seed %d), "
        "corrected %.1f (null %.1f), headline excess %.2f [%.2f, %.2f]; at d=%d corrected %.2f "
        "(null %.2f)",
        layer,
        s["slope"],
        s["slope_ci_low"],
        s["slope_ci_high"],
        s["null_slope"],
        s["clustering_faithful"],
        s["null_clustering_faithful"],
        s["faithful_seed"],
        s["clustering_corrected"],
        s["null_clustering_corrected"],
        s["excess_clustering_corrected"],
        s["excess_clustering_corrected_ci_low"],
        s["excess_clustering_corrected_ci_high"],
        s["corrected_pca_dim"],
        s["clustering_corrected_lowdim"],
        s["null_clustering_corrected_lowdim"],
    )
    io.write_tsv(smk.output.spectrum, result.spectrum)
    io.write_tsv(smk.output.summary, pd.DataFrame([s], columns=GALAXY_COLUMNS))


run(main, snakemake)  # noqa: F821
