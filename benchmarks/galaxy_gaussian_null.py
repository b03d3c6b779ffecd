"""The paper's clustering estimator on a structureless cloud of the paper's shape.

Regenerates the ``null_clustering_faithful`` row of config/paper_values.tsv: an isotropic
Gaussian cloud of 65,536 × 2,304 (Gemma Scope 65k decoder shape, float32), scored with the
workflow's faithful estimator, which follows the official notebook
(galaxy/PointCloudStructure_Galaxy.ipynb, entropy cell): seed 0 for numpy's random state, a
5,000-row subsample, z-score, sklearn PCA to 100 (default solver), 30 bootstrap resamples
with replacement, float32 torch.cdist, θ = 0.01, k = 1. Prints the clustering with the
official error bar and the platform (the value depends on float32 rounding, so on BLAS,
thread count and hardware, slightly). ``--clouds N`` repeats it on N Gaussian clouds
(cloud seeds 0..N−1, numpy seed 0 each time) to show the spread across clouds.

    python benchmarks/galaxy_gaussian_null.py [--clouds 1] [--bootstrap 30]

Needs ~1.5 GB of memory; about a minute per cloud on one core.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.galaxy import entropy as ent  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=65_536)
    parser.add_argument("--width", type=int, default=2_304)
    parser.add_argument("--points", type=int, default=5_000)
    parser.add_argument("--pca-dim", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=30)
    parser.add_argument("--clouds", type=int, default=1)
    args = parser.parse_args(argv)

    import sklearn
    import torch

    values = []
    for cloud_seed in range(args.clouds):
        start = time.perf_counter()
        cloud = np.random.default_rng(cloud_seed).standard_normal(
            (args.rows, args.width), dtype=np.float32
        )
        state = np.random.RandomState(0)  # the official set_seed(0)
        pre = ent.faithful_preprocess(cloud, args.points, args.pca_dim, True, state)
        del cloud
        res = ent.faithful_clustering(pre.points, state, k=1, theta=0.01, bootstrap=args.bootstrap)
        values.append(res.clustering)
        print(
            f"cloud seed {cloud_seed}: clustering {res.clustering:.2f} nats (official error bar "
            f"{res.ci_low:.2f} to {res.ci_high:.2f}; H_gauss {res.entropy_gauss:.2f}, H_knn "
            f"{res.entropy_knn:.2f}); "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
    if len(values) > 1:
        print(
            f"over {len(values)} clouds: mean {np.mean(values):.2f}, sd "
            f"{np.std(values, ddof=1):.2f}, "
            f"range {min(values):.2f} to {max(values):.2f}"
        )
    print(
        f"platform: {platform.machine()} CPU ({platform.processor() or 'unknown'}), float32, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
