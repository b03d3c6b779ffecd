"""results/summary.tsv: every stage's headline numbers joined with the papers' numbers."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io, registry, report
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: load %d stage summaries and %s", len(smk.input.tables), smk.input.paper_values)
    tables = {
        stage: report.check_stage_table(io.read_tsv(path), stage, path)
        for stage, path in zip(smk.params.stages, smk.input.tables, strict=False)
    }
    # The paper values are a hand-written config file (no checksum sidecar).
    import pandas as pd

    paper = report.check_paper_table(
        pd.read_csv(smk.input.paper_values, sep="\t", dtype=str, keep_default_na=False),
        smk.input.paper_values,
    )
    glossary = report.check_glossary(registry.glossary(), registry.WHERE)
    log.info("phase: join")
    summary = report.assemble_summary(tables, paper)
    report.check_glossary_covers(summary, glossary, registry.WHERE)
    headline = report.headline_table(summary)
    log.info(
        "%d rows, %d with a paper value (%d for the paper's own model)",
        len(summary),
        len(headline),
        int((headline.comparison == report.SAME_MODEL).sum()),
    )
    io.write_tsv(smk.output.summary, report.format_for_tsv(summary, glossary))
    io.write_tsv(smk.output.headline, report.format_for_tsv(headline, glossary))
    title = (
        f"Reproduced vs paper values (stages: {', '.join(smk.params.stages)}; "
        f"seed {smk.config['seed']})"
    )
    with io.atomic_path(smk.output.html) as tmp:
        tmp.write_text(report.summary_html(summary, title, glossary))
    with io.atomic_path(smk.output.headline_rst) as tmp:
        tmp.write_text(report.headline_rst(headline, glossary))
    with io.atomic_path(smk.output.glossary) as tmp:
        tmp.write_text(report.glossary_html(glossary))


run(main, snakemake)  # noqa: F821
