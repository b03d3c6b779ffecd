import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
import pandas as pd  # noqa: E402

from concept_geometry import io  # noqa: E402
from concept_geometry.galaxy import GALAXY_COLUMNS, SPECTRUM_COLUMNS  # noqa: E402
from concept_geometry.runner import run  # noqa: E402


def main(smk, log):
    log.info("phase: gather %d layers", len(smk.input.summaries))
    galaxy = pd.concat([io.read_tsv(p) for p in smk.input.summaries], ignore_index=True)
    spectrum = pd.concat([io.read_tsv(p) for p in smk.input.spectra], ignore_index=True)
    io.write_tsv(smk.output.galaxy, galaxy[GALAXY_COLUMNS].sort_values("layer"))
    io.write_tsv(smk.output.spectrum, spectrum[SPECTRUM_COLUMNS].sort_values(["layer", "rank"]))


run(main, snakemake)  # noqa: F821
