"""Benchmark: spectral lobes at the paper's scale (16,384 SAE features), time and peak memory.

Li et al. cluster a 16k x 16k co-occurrence affinity. This builds a synthetic layer of that
size with planted lobes (each chunk draws one lobe and fires its features more often), gets
exact counts with the workflow's accumulator, then runs the lobes_cluster job's computation
(``lobes.pipeline.cluster_all``) with the paper preset's clustering settings (sparse route
above 4,096 features: 64-nearest-neighbour graph, one spectral embedding, k-means per k).
The clustering runs in a fresh process that loads the layer from disk, as the
lobes_cluster job does, so its peak RSS is the job's (building the synthetic layer costs
more and is not counted). Reports wall time per measure, that peak RSS, and the AMI of the
k = n_lobes labels against the planted lobes (a check that the fast route still finds them).

    python benchmarks/lobes_clustering.py --features 16384 --chunks 4000 --measures phi
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.activations.cooccurrence import cooccurrence_counts  # noqa: E402
from concept_geometry.lobes import pipeline  # noqa: E402


def planted_layer(n_features, n_chunks, n_lobes, d, seed=0):
    rng = np.random.default_rng(seed)
    lobe = rng.integers(0, n_lobes, n_features)
    chunk_lobe = rng.integers(0, n_lobes, n_chunks)
    p = np.where(lobe[None, :] == chunk_lobe[:, None], 0.08, 0.01)
    firings = (rng.random((n_chunks, n_features), dtype=np.float32) < p).astype(np.uint8)
    centres = rng.standard_normal((n_lobes, d)).astype(np.float32)
    decoder = centres[lobe] + 2.0 * rng.standard_normal((n_features, d), dtype=np.float32)
    return firings, decoder, lobe


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def cluster(path, args):
    """The lobes_cluster job's work on the layer saved at ``path`` (run in its own process)."""
    from sklearn.metrics import adjusted_mutual_info_score

    with np.load(path) as data:
        counts, occ, n_chunks = data["counts"], data["occurrences"], int(data["n_chunks"])
        decoder, planted = data["decoder"], data["planted"]
    print(f"loaded: peak RSS {peak_rss_gib():.2f} GiB", flush=True)
    cfg = {"ks": args.ks, "measures": [], "shift_phi": True,
           "clustering": {"method": "auto", "dense_max_features": 4096, "n_neighbors": 64,
                          "n_init": 10}}
    active = pipeline.active_features(occ, 1)
    for measure in args.measures:
        t = time.perf_counter()
        labels = pipeline.cluster_all(counts, occ, n_chunks, decoder, active,
                                      {**cfg, "measures": [measure]}, 0, "bench")
        wall = time.perf_counter() - t
        for name in (measure, "geometric"):
            sel = labels[(labels.measure == name) & (labels.k == args.lobes)].sort_values("feature")
            ami = adjusted_mutual_info_score(planted, sel["lobe"].to_numpy())
            print(f"{name:>16}: AMI vs planted lobes at k={args.lobes}: {ami:.3f}", flush=True)
        print(f"{measure} + geometric, ks={args.ks}: {wall:.1f} s wall; "
              f"peak RSS {peak_rss_gib():.2f} GiB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--chunks", type=int, default=4000)
    ap.add_argument("--lobes", type=int, default=2)
    ap.add_argument("--d", type=int, default=2304)
    ap.add_argument("--measures", nargs="+", default=["phi"])
    ap.add_argument("--ks", nargs="+", type=int, default=[2, 3, 4, 8, 16, 32, 64])
    ap.add_argument("--layer-file", help=argparse.SUPPRESS)  # internal: the clustering process
    args = ap.parse_args()
    if args.layer_file:
        return cluster(args.layer_file, args)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        firings, decoder, planted = planted_layer(args.features, args.chunks, args.lobes, args.d)
        counts, occ, n_chunks = cooccurrence_counts(firings, 200, mode="dense")
        path = Path(tmp) / "layer.npz"
        np.savez(path, counts=counts, occurrences=occ, n_chunks=n_chunks, decoder=decoder,
                 planted=planted)
        print(f"synthetic layer: {args.features} features, {n_chunks} chunks, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        del firings, counts, decoder
        subprocess.run([sys.executable, __file__, "--layer-file", str(path), *sys.argv[1:]],
                       check=True)


if __name__ == "__main__":
    main()
