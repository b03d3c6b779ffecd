"""Train the latent-concept models of one experiment x replicate; write tidy tables."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run
from concept_geometry.simulation.experiments import run_experiment


def main(smk, log):
    exp, replicate = smk.wildcards.experiment, int(smk.wildcards.seed)
    log.info("phase: exact model + training, experiment %s, replicate %d", exp, replicate)
    res = run_experiment(exp, smk.params.cfg, smk.params.seed, replicate, log=log, progress=True)
    log.info("phase: write (mean steering cos %.3f)", res.concepts["steering_cos"].mean())
    io.write_tsv(smk.output.concepts, res.concepts)
    io.write_tsv(smk.output.orthogonality, res.orthogonality)
    io.write_tsv(smk.output.curves, res.curve)


run(main, snakemake)  # noqa: F821
