"""decoder.npy of one features layer: the W_dec of the SAE whose firings were recorded."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402


def main(smk, log):
    w_dec = io.read_npy(smk.input.decoder, expect=smk.params.sae_identity)
    log.info("phase: copy W_dec %s", w_dec.shape)
    io.write_npy(smk.output.decoder, w_dec, identity=smk.params.identity)


run(main, snakemake)  # noqa: F821
