"""Does function predict geometry? AMI permutation test and logistic-regression probe vs
random unit vectors, faithful and corrected variants (Li et al. 2024, Fig. 3), for one
co-occurrence measure -> tests/<measure>.tsv."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from tqdm import tqdm  # noqa: E402

from concept_geometry.lobes import pipeline  # noqa: E402


def main(smk, log):
    log.info("phase: load labels and decoder")
    labels = io.read_tsv(smk.input.labels)
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    measure = smk.wildcards.measure
    cfg = {**smk.params.cfg, "measures": [measure]}
    log.info("phase: tests of %s for k in %s", measure, cfg["ks"])
    tests = pipeline.run_tests(labels, decoder, cfg, smk.params.seed, smk.wildcards.layer,
                               progress=lambda xs: tqdm(xs, desc=f"tests {measure}"))
    io.write_tsv(smk.output.tests, tests)


run(main, snakemake)  # noqa: F821
