
import _workflow_path  # first: puts workflow/ (the package) on sys.path

import pandas as pd

from concept_geometry import io
from concept_geometry.galaxy import GALAXY_COLUMNS, SPECTRUM_COLUMNS
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: gather %d layers", len(smk.input.summaries))
    galaxy = pd.concat([io.read_tsv(p) for p in smk.input.summaries], ignore_index=True)
    spectrum = pd.concat([io.read_tsv(p) for p in smk.input.spectra], ignore_index=True)
    io.write_tsv(smk.output.galaxy, galaxy[GALAXY_COLUMNS].sort_values("layer"))
    io.write_tsv(smk.output.spectrum, spectrum[SPECTRUM_COLUMNS].sort_values(["layer", "rank"]))


run(main, snakemake)  # noqa: F821
