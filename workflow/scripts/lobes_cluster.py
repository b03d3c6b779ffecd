"""Spectral lobes of one layer's SAE features, per co-occurrence measure, k and variant, plus
the geometric clusters of the decoder directions (Li et al. 2024, Sec. 4) -> labels.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.lobes import pipeline
from concept_geometry.runner import run


def main(smk, log):
    cfg, layer = smk.params.cfg, smk.wildcards.layer
    log.info("phase: load %s", smk.input.cooccurrence)
    cooc = io.read_npz(smk.input.cooccurrence, expect=smk.params.expect)
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    pipeline.check_inputs(
        cooc["counts"], cooc["occurrences"], cooc["n_chunks"], decoder, smk.input.cooccurrence
    )
    active = pipeline.active_features(cooc["occurrences"], cfg["min_occurrences"])
    log.info(
        "phase: cluster all %d features (faithful) and the %d that fire (corrected; %d excluded)",
        decoder.shape[0],
        active.size,
        decoder.shape[0] - active.size,
    )
    labels = pipeline.cluster_all(
        cooc["counts"],
        cooc["occurrences"],
        int(cooc["n_chunks"]),
        decoder,
        active,
        cfg,
        smk.params.seed,
        layer,
    )
    io.write_tsv(smk.output.labels, labels)


run(main, snakemake)  # noqa: F821
