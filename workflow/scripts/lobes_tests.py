"""Does function predict geometry? AMI permutation test and logistic-regression probe vs
random unit vectors, faithful and corrected variants (Li et al. 2024, Fig. 3), for one
co-occurrence measure -> tests/<measure>.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from tqdm import tqdm

from concept_geometry import io
from concept_geometry.lobes import pipeline
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: load labels and decoder")
    labels = io.read_tsv(smk.input.labels)
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    measure = smk.wildcards.measure
    cfg = {**smk.params.cfg, "measures": [measure]}
    log.info("phase: tests of %s for k in %s", measure, cfg["ks"])
    tests = pipeline.run_tests(
        labels,
        decoder,
        cfg,
        smk.params.seed,
        smk.wildcards.layer,
        progress=lambda xs: tqdm(xs, desc=f"tests {measure}"),
    )
    io.write_tsv(smk.output.tests, tests)


run(main, snakemake)  # noqa: F821
