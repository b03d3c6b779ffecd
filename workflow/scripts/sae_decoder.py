"""The decoder matrix W_dec (n_features, d_model) float32 of one SAE."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.features.sae import check_sae_fits, decoder_matrix
from concept_geometry.features.stage import load_sae_for_layer, model_hidden_size
from concept_geometry.runner import run


def main(smk, log):
    layer = int(smk.wildcards.layer)
    sae_dir = None
    if smk.input.get("sae"):
        io.verify(smk.input.sae, expect=smk.params.identity)
        sae_dir = smk.input.sae
    log.info("phase: load SAE (%s)", sae_dir or smk.params.spec["source"])
    sae = load_sae_for_layer(smk.params.spec, layer, smk.params.key, sae_dir=sae_dir)
    check_sae_fits(sae, model_hidden_size(smk.params.model_spec), layer, smk.params.key)
    w_dec = decoder_matrix(sae)
    log.info("phase: write W_dec %s", w_dec.shape)
    io.write_npy(smk.output.decoder, w_dec, identity=smk.params.identity)


run(main, snakemake)  # noqa: F821
