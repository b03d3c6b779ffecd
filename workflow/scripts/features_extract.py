"""One forward pass over the corpus: per-layer SAE firing sets of every full chunk."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import contextlib

from concept_geometry import io
from concept_geometry.corpus import read_documents
from concept_geometry.features.contexts import TopContexts
from concept_geometry.features.extract import extract_firings
from concept_geometry.features.sae import check_sae_fits
from concept_geometry.features.stage import (
    chunk_columns,
    layer_stats,
    load_model_and_tokenizer,
    load_sae_for_layer,
    top_context_arrays,
)
from concept_geometry.runner import run


def main(smk, log):
    p = smk.params
    layers = list(p.layers)
    docs = read_documents(smk.input.documents)
    log.info("phase: load model %s and SAEs of layers %s", p.model_spec, layers)
    model, tokenizer, d_model = load_model_and_tokenizer(p.model, p.model_spec, layers)
    saes = {}
    for layer, sae_dir in zip(layers, smk.input.saes, strict=False):
        io.verify(sae_dir, expect=p.sae_identity[str(layer)])
        saes[layer] = load_sae_for_layer(p.sae, layer, "features.sae", p.model["device"], sae_dir)
        check_sae_fits(saes[layer], d_model, layer, "features.sae")
    log.info(
        "phase: forward %d documents (threshold %g, chunk %d)", len(docs), p.threshold, p.chunk_size
    )
    tc = p.top_contexts  # top-N contexts per feature, a fixed-size table per layer
    tops = {
        layer: TopContexts(int(saes[layer].cfg.d_sae), tc["per_feature"], tc["window"])
        for layer in layers
    }
    # Each batch's firing rows go straight to disk: memory does not grow with the corpus.
    with contextlib.ExitStack() as stack:  # any error: the writers' temp files are removed
        writers = {
            layer: stack.enter_context(
                io.SparseRowsWriter(path, "firings", int(saes[layer].cfg.d_sae))
            )
            for layer, path in zip(layers, smk.output.firings, strict=False)
        }
        out = extract_firings(
            model,
            tokenizer,
            docs["text"].tolist(),
            saes,
            p.threshold,
            p.chunk_size,
            p.model["batch_size"],
            p.max_length,
            p.drop_special,
            p.model["device"],
            sinks={layer: w.append for layer, w in writers.items()},
            top_contexts=tops,
        )
        stats = {}
        for layer, writer in writers.items():
            stats[f"layer_{layer}"] = layer_stats(
                layer,
                out[layer].stats,
                writer.n_rows,
                writer.nnz,
                p.chunk_size,
                p.max_length,
                p.threshold,
            )
            writer.close(
                identity=p.identity[str(layer)], **chunk_columns(docs, out[layer].doc_index)
            )
            log.info("phase: layer %d: %s", layer, stats[f"layer_{layer}"])
        for layer, path in zip(layers, smk.output.contexts, strict=False):
            arrays = top_context_arrays(tops[layer].result(), tokenizer, docs)
            io.write_npz(path, identity=p.contexts_identity[str(layer)], **arrays)
            filled = arrays["doc_id"] >= 0
            log.info(
                "phase: layer %d: top contexts of %d features (%d filled)",
                layer,
                len(filled),
                filled.sum(),
            )
    io.write_json(smk.output.stats, stats)


run(main, snakemake)  # noqa: F821
