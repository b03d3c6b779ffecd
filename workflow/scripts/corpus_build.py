"""Build the corpus (documents + category + histogram/heldout split) named by features.corpus."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry.corpus import load_corpus, split_documents, write_documents
from concept_geometry.runner import run
from concept_geometry.seeding import corpus_split_seed


def main(smk, log):
    cfg = smk.params.cfg
    log.info("phase: load corpus (source=%s, n_documents=%d)", cfg["source"], cfg["n_documents"])
    docs = load_corpus(cfg, smk.params.path)
    seed = corpus_split_seed(smk.params.seed)
    docs["split"] = split_documents(docs["category"].to_numpy(), smk.params.heldout_fraction, seed)
    log.info(
        "phase: %d documents %s, split %s",
        len(docs),
        docs["category"].value_counts().to_dict(),
        docs["split"].value_counts().to_dict(),
    )
    write_documents(smk.output.documents, docs[["doc_id", "category", "split", "text"]])


run(main, snakemake)  # noqa: F821
