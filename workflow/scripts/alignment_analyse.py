"""Embedding vs unembedding concept directions of one causal LM (Jiang et al. §5)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import numpy as np

from concept_geometry import io, seeding
from concept_geometry.alignment import geometry, matrices, pairs
from concept_geometry.models import load_tokenizer
from concept_geometry.runner import run


def main(smk, log):
    p = smk.params
    key = f"alignment.models[{p.name}].path"
    log.info("phase: load tokenizer and word pairs (%s, %s)", p.spec, p.concepts)
    tokenizer = load_tokenizer(p.spec, key)
    concepts = pairs.read_concepts(p.concepts, f"alignment.models[{p.name}].concepts")
    frame = pairs.filter_pairs(tokenizer, concepts, p.entry["require_bos"], p.entry["prefix_space"])
    log.info("phase: %d of %d pairs kept", frame["kept"].sum(), len(frame))
    pairs.require_tokenizable(frame, p.concepts, f"alignment.models[{p.name}]")
    log.info("phase: read embedding and unembedding matrices")
    mats = matrices.load_embedding_matrices(p.spec, key)
    log.info(
        "phase: %s via %s, shape %s, tied=%s",
        mats.names,
        mats.source,
        mats.embedding.shape,
        mats.tied,
    )
    vocab, candidates = matrices.candidate_tokens(mats, tokenizer)
    frame = pairs.drop_out_of_range(frame, vocab)
    rng = seeding.alignment_rng(p.seed, p.name)
    log.info("phase: directions, alignment, orthogonality, random-pair baseline, diagonal null")
    result = geometry.analyse(
        mats.embedding,
        mats.unembedding,
        mats.tied,
        frame,
        candidates,
        rng,
        p.ridge,
        p.draws,
        p.null_draws,
    )
    extra = io.read_json(smk.input.training) if "training" in smk.input.keys() else {}
    summary = geometry.summarise(
        result,
        frame,
        mats.tied,
        model=p.name,
        path=str(p.spec),
        source=mats.source,
        tensors=list(mats.names),
        vocab_size=int(vocab),
        d_model=int(mats.embedding.shape[1]),
        **{k: v for k, v in extra.items() if k.startswith("toy_")},
    )
    log.info(
        "phase: diag_mean_abs=%s offdiag_mean_abs=%s verdict=%s",
        summary["diag_mean_abs"],
        summary["offdiag_mean_abs"],
        summary["diag_verdict"],
    )
    io.write_tsv(smk.output.pairs, frame)
    io.write_tsv(smk.output.alignment, geometry.alignment_table(result))
    io.write_tsv(smk.output.orthogonality, geometry.orthogonality_table(result))
    io.write_npz(
        smk.output.directions,
        concepts=np.array(result.concepts),
        **{f"{s}_directions": d for s, d in result.directions.items()},
    )
    io.write_json(smk.output.summary, summary)


run(main, snakemake)  # noqa: F821
