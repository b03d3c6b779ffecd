"""decoder.npy of one features layer: the W_dec of the SAE whose firings were recorded."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    w_dec = io.read_npy(smk.input.decoder, expect=smk.params.sae_identity)
    log.info("phase: copy W_dec %s", w_dec.shape)
    io.write_npy(smk.output.decoder, w_dec, identity=smk.params.identity)


run(main, snakemake)  # noqa: F821
