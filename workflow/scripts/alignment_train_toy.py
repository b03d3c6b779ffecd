"""Train the toy Llama on latent-concept text; save it (save_pretrained) and its concept pairs."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import time

from concept_geometry import io
from concept_geometry.alignment import pairs, toy_lm
from concept_geometry.runner import run


def main(smk, log):
    cfg = smk.params.cfg
    log.info(
        "phase: train toy Llama (m=%d, d_model=%d, layers=%d, steps=%d)",
        cfg["m"],
        cfg["d_model"],
        cfg["layers"],
        cfg["steps"],
    )
    start = time.time()
    toy = toy_lm.train_toy_lm(cfg, smk.params.seed)
    seconds = time.time() - start
    log.info(
        "phase: trained in %.1f s, final loss %.4f, KL to exact %.4f",
        seconds,
        toy.final_loss,
        toy.kl_to_exact,
    )
    with io.atomic_dir(smk.output.model) as tmp:
        toy_lm.save_toy_lm(toy, tmp)
    with io.atomic_dir(smk.output.concepts) as tmp:
        pairs.write_concepts(tmp, toy_lm.toy_concepts(toy.text.vocab))
    io.write_tsv(smk.output.curve, toy.history)
    io.write_json(
        smk.output.info,
        {
            "toy_kl_to_exact": toy.kl_to_exact,
            "toy_final_loss": toy.final_loss,
            "toy_train_seconds": seconds,
            "toy": dict(cfg),
        },
    )


run(main, snakemake)  # noqa: F821
