import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.galaxy import GALAXY_COLUMNS, SPECTRUM_COLUMNS
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: gather %d layers", len(smk.input.summaries))
    galaxy = io.concat_tsv(smk.input.summaries, GALAXY_COLUMNS, sort_by="layer")
    spectrum = io.concat_tsv(smk.input.spectra, SPECTRUM_COLUMNS, sort_by=["layer", "rank"])
    io.write_tsv(smk.output.galaxy, galaxy)
    io.write_tsv(smk.output.spectrum, spectrum)


run(main, snakemake)  # noqa: F821
