"""Concatenate the per-job tables (every experiment x replicate) into results/simulation/:
summary.tsv (from the jobs' concepts.tsv: one row per setting x concept), orthogonality.tsv
and curves.tsv. The headline rows are simulation_summary.py's (results/summary/)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: concatenate %d jobs", len(smk.input.concepts))
    outputs = {
        "concepts": smk.output.summary,
        "orthogonality": smk.output.orthogonality,
        "curves": smk.output.curves,
    }
    for name, out in outputs.items():
        io.write_tsv(out, io.concat_tsv(smk.input[name]))


run(main, snakemake)  # noqa: F821
