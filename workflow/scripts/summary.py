"""results/summary.tsv: every stage's headline numbers joined with the papers' numbers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from concept_geometry import report  # noqa: E402


def main(smk, log):
    log.info("phase: load %d stage summaries and %s", len(smk.input.tables), smk.input.paper_values)
    tables = {
        stage: report.check_stage_table(io.read_tsv(path), stage, path)
        for stage, path in zip(smk.params.stages, smk.input.tables)
    }
    # The paper values are a hand-written config file (no checksum sidecar).
    import pandas as pd

    paper = report.check_paper_table(
        pd.read_csv(smk.input.paper_values, sep="\t", dtype=str, keep_default_na=False),
        smk.input.paper_values,
    )
    log.info("phase: join")
    summary = report.assemble_summary(tables, paper)
    log.info("%d rows, %d with a paper value", len(summary), int((summary.paper_value != "").sum()))
    io.write_tsv(smk.output.summary, summary)
    title = f"Reproduced vs paper values (stages: {', '.join(smk.params.stages)}; seed {smk.config['seed']})"
    with io.atomic_path(smk.output.html) as tmp:
        tmp.write_text(report.summary_html(summary, title))


run(main, snakemake)  # noqa: F821
