"""One forward pass over the corpus: per-layer SAE firing sets of every full chunk."""
import _workflow_path  # first: puts workflow/ (the package) on sys.path

import contextlib

import numpy as np

from concept_geometry import io
from concept_geometry.activations.contexts import TopContexts, token_strings
from concept_geometry.activations.extract import extract_firings
from concept_geometry.activations.sae import check_sae_fits
from concept_geometry.activations.stage import load_model_and_tokenizer, load_sae_for_layer
from concept_geometry.corpus import read_documents
from concept_geometry.errors import InputDataError
from concept_geometry.runner import run


def main(smk, log):
    p = smk.params
    layers = list(p.layers)
    docs = read_documents(smk.input.documents)
    log.info("phase: load model %s and SAEs of layers %s", p.model_spec, layers)
    model, tokenizer, d_model = load_model_and_tokenizer(p.model, p.model_spec, layers)
    saes = {}
    for layer, sae_dir in zip(layers, smk.input.saes):
        io.verify(sae_dir, expect=p.sae_identity[str(layer)])
        saes[layer] = load_sae_for_layer(p.sae, layer, "features.sae", p.model["device"], sae_dir)
        check_sae_fits(saes[layer], d_model, layer, "features.sae")
    log.info("phase: forward %d documents (threshold %g, chunk %d)", len(docs), p.threshold, p.chunk_size)
    tc = p.top_contexts  # top-N contexts per feature, a fixed-size table per layer
    tops = {layer: TopContexts(int(saes[layer].cfg.d_sae), tc["per_feature"], tc["window"]) for layer in layers}
    # Each batch's firing rows go straight to disk: memory does not grow with the corpus.
    with contextlib.ExitStack() as stack:  # any error: the writers' temp files are removed
        writers = {layer: stack.enter_context(io.SparseRowsWriter(path, "firings", int(saes[layer].cfg.d_sae)))
                   for layer, path in zip(layers, smk.output.firings)}
        out = extract_firings(model, tokenizer, docs["text"].tolist(), saes, p.threshold, p.chunk_size,
                              p.model["batch_size"], p.max_length, p.drop_special, p.model["device"],
                              sinks={layer: w.append for layer, w in writers.items()}, top_contexts=tops)
        stats = {}
        for layer, writer in writers.items():
            res = out[layer]
            if writer.n_rows == 0:
                raise InputDataError(
                    f"No document of the corpus has a full chunk of {p.chunk_size} tokens (after dropping special "
                    f"tokens, truncation at {p.max_length}). Lower `features.chunk_size` or give longer documents.")
            if writer.nnz == 0:
                raise InputDataError(
                    f"No SAE feature of layer {layer} fires (activation > `features.threshold` = "
                    f"{p.threshold:g}) on any of the {writer.n_rows} chunks, so co-occurrences, lobes "
                    f"and galaxy statistics would all be empty. Lower `features.threshold`.")
            rows = docs.iloc[res.doc_index]
            stats[f"layer_{layer}"] = {**res.stats, "n_chunks": writer.n_rows,
                                       "mean_firing_per_chunk": writer.nnz / writer.n_rows}
            writer.close(identity=p.identity[str(layer)], doc_id=rows["doc_id"].to_numpy(np.int64), category=rows["category"].to_numpy(str),
                         split=rows["split"].to_numpy(str))
            log.info("phase: layer %d: %s", layer, stats[f"layer_{layer}"])
        for layer, path in zip(layers, smk.output.contexts):
            top = tops[layer].result()
            filled = top.doc_index >= 0
            vocab, snippet = token_strings(tokenizer, top.snippet)
            doc_id = np.where(filled, docs["doc_id"].to_numpy(np.int64)[np.where(filled, top.doc_index, 0)], -1)
            io.write_npz(path, identity=p.contexts_identity[str(layer)], activation=top.activation,
                         doc_id=doc_id, position=top.position, snippet=snippet, tokens=vocab,
                         window=np.int64(top.window))
            log.info("phase: layer %d: top contexts of %d features (%d filled)", layer, len(filled), filled.sum())
    io.write_json(smk.output.stats, stats)


run(main, snakemake)  # noqa: F821
