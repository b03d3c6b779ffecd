"""Which lobe wins each chunk, per document category; faithful (histogram documents) and
corrected (held-out documents); code-lobe verdict (Li et al. 2024, Figs. 4-5)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.corpus import read_documents
from concept_geometry.lobes import pipeline
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: load %s", smk.input.firings)
    labels = io.read_tsv(smk.input.labels)
    firings = io.open_npz(smk.input.firings, expect=smk.params.expect)
    data = firings.read(keys=["category", "split", "doc_id"])
    docs = read_documents(smk.input.documents, columns=["doc_id", "split"])
    log.info("phase: specialisation of %d chunks (streamed)", data["split"].shape[0])
    blocks = firings.iter_sparse_rows("firings", block_rows=4096)
    spec, verdicts = pipeline.specialization(
        labels,
        blocks,
        data["category"],
        data["split"],
        smk.params.cfg,
        smk.input.firings,
        doc_id=data["doc_id"],
        histogram_documents=docs.loc[docs["split"] == "histogram", "doc_id"].to_numpy(),
    )
    for measure, by_variant in verdicts.items():
        log.info("code lobe at k=2, %s: %s", measure, by_variant)
    io.write_tsv(smk.output.specialization, spec)
    io.write_json(smk.output.code_lobe, verdicts)


run(main, snakemake)  # noqa: F821
