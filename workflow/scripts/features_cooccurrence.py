"""Co-occurrence counts over the histogram chunks of one layer, plus the layer's meta.json."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import numpy as np

from concept_geometry import io
from concept_geometry.features.cooccurrence import CooccurrenceAccumulator
from concept_geometry.features.stage import layer_meta
from concept_geometry.runner import run


def main(smk, log):
    firings = io.open_npz(smk.input.firings, expect=smk.params.identity)
    data = firings.read(keys=["split", "doc_id", "firings__csr_shape"])
    hist = data["split"] == "histogram"
    n_features = int(data["firings__csr_shape"][1])
    log.info(
        "phase: co-occurrence over %d histogram chunks x %d features (streamed)",
        hist.sum(),
        n_features,
    )
    acc = CooccurrenceAccumulator(n_features)
    for _rows, block in firings.iter_sparse_rows("firings", hist, smk.params.batch):
        acc.add(block)  # one batch of chunks in memory at a time, whatever the corpus size
    counts, occurrences, n_chunks = acc.result()
    io.write_npz(
        smk.output.cooccurrence,
        identity=smk.params.identity,
        counts=counts,
        occurrences=occurrences,
        n_chunks=np.int64(n_chunks),
    )
    stats = io.read_json(smk.input.stats)[f"layer_{smk.wildcards.layer}"]
    sae = io.read_json(smk.input.sae_info, expect=smk.params.sae_identity)
    meta = layer_meta(
        model=smk.wildcards.model,
        model_path=smk.params.model_spec,
        corpus=smk.wildcards.corpus,
        layer=int(smk.wildcards.layer),
        sae=sae,
        threshold=smk.params.threshold,
        chunk_size=smk.params.chunk_size,
        max_length=smk.params.max_length,
        split=data["split"],
        doc_id=data["doc_id"],
        occurrences=occurrences,
        n_chunks_histogram=n_chunks,
        stats=stats,
    )
    io.write_json(smk.output.meta, meta, identity=smk.params.identity)


run(main, snakemake)  # noqa: F821
