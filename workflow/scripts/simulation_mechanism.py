"""The mechanism table: results/simulation/mechanism.tsv (log-odds spread, GD vs Adam)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from concept_geometry.simulation.mechanism import mechanism_table  # noqa: E402


def main(smk, log):
    log.info("phase: mechanism table")
    io.write_tsv(smk.output.mechanism, mechanism_table(io.read_tsv(smk.input.summary)))


run(main, snakemake)  # noqa: F821
