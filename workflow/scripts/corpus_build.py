"""Build the corpus (documents + category + histogram/heldout split) named by features.corpus."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from concept_geometry.corpus import load_corpus, split_documents, write_documents  # noqa: E402
from concept_geometry.seeding import derive_seed  # noqa: E402


def main(smk, log):
    cfg = smk.params.cfg
    log.info("phase: load corpus (source=%s, n_documents=%d)", cfg["source"], cfg["n_documents"])
    docs = load_corpus(cfg, smk.params.path)
    seed = derive_seed(smk.params.seed, "features", "split")
    docs["split"] = split_documents(docs["category"].to_numpy(), smk.params.heldout_fraction, seed)
    log.info("phase: %d documents %s, split %s", len(docs), docs["category"].value_counts().to_dict(),
             docs["split"].value_counts().to_dict())
    write_documents(smk.output.documents, docs[["doc_id", "category", "split", "text"]])


run(main, snakemake)  # noqa: F821
