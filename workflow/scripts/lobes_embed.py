"""2-D map (t-SNE or PCA) of one layer's decoder directions for the feature-cloud figure."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.lobes.plots import feature_cloud_2d
from concept_geometry.runner import run


def main(smk, log):
    fig = smk.params.cfg["figures"]
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    log.info("phase: %s of %d decoder directions", fig["embedding"], decoder.shape[0])
    idx, coords = feature_cloud_2d(decoder, fig["embedding"], smk.params.seed, fig["max_points"])
    io.write_npz(smk.output.embedding, feature=idx, coords=coords)


run(main, snakemake)  # noqa: F821
