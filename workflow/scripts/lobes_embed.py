"""2-D map (t-SNE or PCA) of one layer's decoder directions for the feature-cloud figure."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
from concept_geometry.lobes.plots import feature_cloud_2d  # noqa: E402


def main(smk, log):
    fig = smk.params.cfg["figures"]
    decoder = io.read_npy(smk.input.decoder, expect=smk.params.expect)
    log.info("phase: %s of %d decoder directions", fig["embedding"], decoder.shape[0])
    idx, coords = feature_cloud_2d(decoder, fig["embedding"], smk.params.seed, fig["max_points"])
    io.write_npz(smk.output.embedding, feature=idx, coords=coords)


run(main, snakemake)  # noqa: F821
