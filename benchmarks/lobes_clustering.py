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

``--route dense`` times the faithful variant instead, as the job runs it: the dense route on
the full 16k x 16k affinity of all features, every k in one fresh process per measure
(Laplacian and LU factorisation once); ``--route dense-per-k`` times the official call it
reproduces, one ``SpectralClustering`` per (measure, k) in its own process (the route before
the shared factorisation). ``geometric`` is a measure here too:

    python benchmarks/lobes_clustering.py --route dense --measures phi
    python benchmarks/lobes_clustering.py --route dense-per-k --measures phi --ks 2 64
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
from concept_geometry.features.cooccurrence import cooccurrence_counts  # noqa: E402
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cluster(path, args):
    """The lobes_cluster job's corrected-variant work (paper preset: sparse above 4,096
    features) on the layer saved at ``path`` (run in its own process)."""
    from sklearn.metrics import adjusted_mutual_info_score

    from concept_geometry.lobes.clustering import cluster_measure

    with np.load(path) as data:
        counts, occ, n_chunks = data["counts"], data["occurrences"], int(data["n_chunks"])
        decoder, planted = data["decoder"], data["planted"]
    print(f"loaded: peak RSS {peak_rss_gib():.2f} GiB", flush=True)
    route = dict(method="auto", dense_max_features=4096, n_neighbors=64, n_init=10)
    active = pipeline.active_features(occ, 1)
    sub = (
        dict(counts=counts[np.ix_(active, active)], occurrences=occ[active], n_chunks=n_chunks)
        if active.size < occ.size
        else dict(counts=counts, occurrences=occ, n_chunks=n_chunks)
    )
    for measure in args.measures:
        t = time.perf_counter()
        for name, kw in ((measure, sub), ("geometric", dict(decoder=decoder[active]))):
            res = cluster_measure(name, args.ks, 0, **route, **kw)
            ami = adjusted_mutual_info_score(planted[active], res.labels[args.lobes])
            print(
                f"{name:>16} ({res.method}): AMI vs planted lobes at k={args.lobes}: {ami:.3f}",
                flush=True,
            )
        wall = time.perf_counter() - t
        print(
            f"{measure} + geometric, ks={args.ks}: {wall:.1f} s wall; "
            f"peak RSS {peak_rss_gib():.2f} GiB",
            flush=True,
        )


def dense_one(path, args):
    """The faithful route on the layer at ``path`` (its own process): ``--route dense`` runs
    the job's computation for one measure and every k (``cluster_measure(method="dense")``:
    Laplacian and LU once, then each k); ``--route dense-per-k`` one official
    ``SpectralClustering`` call for one (measure, k), as the paper's code makes it."""
    from sklearn.metrics import adjusted_mutual_info_score

    from concept_geometry.lobes.affinity import affinity_blocks
    from concept_geometry.lobes.clustering import cluster_measure

    (measure,) = args.measures
    with np.load(path) as data:
        kw = (
            dict(decoder=data["decoder"])
            if measure == "geometric"
            else dict(
                counts=data["counts"],
                occurrences=data["occurrences"],
                n_chunks=int(data["n_chunks"]),
            )
        )
        planted = data["planted"]
    t, cpu = time.perf_counter(), time.process_time()
    official = dict(shift_phi=True, official_int64=True)
    if args.route == "dense":
        labels = cluster_measure(
            measure, args.ks, 0, method="dense", n_init=None, **official, **kw
        ).labels
    else:
        from sklearn.cluster import SpectralClustering

        (k,) = args.ks
        n = planted.shape[0]
        affinity = np.empty((n, n), dtype=np.float64)
        for rows, values in affinity_blocks(measure, **official, **kw):
            affinity[rows] = values
        np.maximum(affinity, 0.0, out=affinity)
        model = SpectralClustering(
            n_clusters=k, affinity="precomputed", assign_labels="kmeans", random_state=0
        )
        labels = {k: model.fit_predict(affinity)}
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    lobes = args.lobes if args.lobes in labels else min(labels)
    ami = adjusted_mutual_info_score(planted, labels[lobes])
    ks = ",".join(map(str, args.ks))
    print(f"{measure}\t{ks}\t{wall:.1f}\t{cpu:.1f}\t{peak_rss_gib():.2f}\t{ami:.3f}", flush=True)


def dense_all(path, argv):
    """One process per measure (``dense``: all ks) or per (measure, k) (``dense-per-k``):
    wall, CPU seconds and peak RSS."""
    args = _parser().parse_args(argv)
    print(f"measure\tks\twall_s\tcpu_s\tpeak_rss_gib\tami_vs_planted_k{args.lobes}", flush=True)
    groups = [args.ks] if args.route == "dense" else [[k] for k in args.ks]
    for measure in args.measures:
        for ks in groups:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--layer-file",
                    str(path),
                    "--route",
                    args.route,
                    "--measures",
                    measure,
                    "--ks",
                    *map(str, ks),
                    "--lobes",
                    str(args.lobes),
                ],
                check=True,
            )


def _parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--chunks", type=int, default=4000)
    ap.add_argument("--lobes", type=int, default=2)
    ap.add_argument("--d", type=int, default=2304)
    ap.add_argument("--measures", nargs="+", default=["phi"])
    ap.add_argument("--ks", nargs="+", type=int, default=[2, 3, 4, 8, 16, 32, 64])
    ap.add_argument(
        "--route",
        choices=["sparse", "dense", "dense-per-k"],
        default="sparse",
        help="sparse: the corrected kNN route (paper preset); dense: the faithful route as "
        "the job runs it (per measure, all ks, shared factorisation); dense-per-k: one "
        "official SpectralClustering call per (measure, k)",
    )
    ap.add_argument("--layer-file", help=argparse.SUPPRESS)  # internal: the clustering process
    return ap


def main():
    args = _parser().parse_args()
    if args.layer_file:
        return (cluster if args.route == "sparse" else dense_one)(args.layer_file, args)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        firings, decoder, planted = planted_layer(args.features, args.chunks, args.lobes, args.d)
        counts, occ, n_chunks = cooccurrence_counts(firings, 200, mode="dense")
        path = Path(tmp) / "layer.npz"
        np.savez(
            path,
            counts=counts,
            occurrences=occ,
            n_chunks=n_chunks,
            decoder=decoder,
            planted=planted,
        )
        print(
            f"synthetic layer: {args.features} features, {n_chunks} chunks, "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        del firings, counts, decoder
        if args.route != "sparse":
            return dense_all(path, sys.argv[1:])
        subprocess.run(
            [sys.executable, __file__, "--layer-file", str(path), *sys.argv[1:]], check=True
        )


if __name__ == "__main__":
    main()
