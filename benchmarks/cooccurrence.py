"""Benchmark: batched co-occurrence accumulation vs the paper's per-chunk dense outer product.

Synthetic firing stream with realistic sparsity: each token fires ~L0 features drawn from a
Zipf-like popularity over F features, chunks of 256 tokens (a chunk's firing set is the union).
Reports identical counts, the speed ratio (target >= 100x) and the ratio to the arithmetic limit
(F^2 multiply-adds per chunk, at the float32 GEMM rate measured in the same run; target
within 2x).

    python benchmarks/cooccurrence.py --features 16384 --chunks 1000 --batch 200

The paper's per-chunk method costs the same for every chunk, so it is timed (and the counts
compared exactly) on the first ``--reference-chunks`` chunks of the same stream; the batched
accumulation runs over the whole stream, as it does on a corpus (the first touch of its
(F, F) accumulator is amortised like in a real run; the one-off int64 finalisation per layer
is reported separately).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.features.cooccurrence import (  # noqa: E402
    CooccurrenceAccumulator,
    cooccurrence_reference,
)


def synthetic_firings(n_chunks, n_features, l0, chunk, seed=0):
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_features + 1) ** 0.6
    pop /= pop.sum()
    rows = []
    for _ in range(n_chunks):
        feats = rng.choice(n_features, size=(chunk * l0), p=pop)
        row = np.zeros(n_features, dtype=np.uint8)
        row[feats] = 1
        rows.append(row)
    return sp.csr_matrix(np.array(rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", type=int, default=16384)
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--l0", type=int, default=40)
    ap.add_argument("--chunk-size", type=int, default=256)
    ap.add_argument("--reference-chunks", type=int, default=100)
    a = ap.parse_args()
    x = synthetic_firings(a.chunks, a.features, a.l0, a.chunk_size)
    print(
        f"F={a.features} chunks={a.chunks} mean features per chunk={x.sum(1).mean():.0f} "
        f"density={x.nnz / np.prod(x.shape):.3f}"
    )
    t0 = time.perf_counter()
    acc = CooccurrenceAccumulator(a.features)
    for s in range(0, a.chunks, a.batch):
        acc.add(x[s : s + a.batch])
    fast = time.perf_counter() - t0  # per-chunk accumulation
    t0 = time.perf_counter()
    counts, occ, _ = acc.result()
    final = time.perf_counter() - t0  # one-off int64 finalisation per layer (not per chunk)
    r = min(a.reference_chunks, a.chunks)
    t0 = time.perf_counter()
    ref, ref_occ, _ = cooccurrence_reference(x[:r])
    slow = (time.perf_counter() - t0) / r * a.chunks  # per-chunk cost x whole stream
    sub = CooccurrenceAccumulator(a.features)
    for s in range(0, r, a.batch):
        sub.add(x[s : min(s + a.batch, r)])
    sub_counts, sub_occ, _ = sub.result()
    same = bool((sub_counts == ref).all() and (sub_occ == ref_occ).all())
    del ref, sub_counts
    import torch

    probe = torch.from_numpy(np.asarray(x[: a.batch].toarray(), dtype=np.float32))
    out = torch.zeros((a.features, a.features))
    out.addmm_(probe.T, probe)  # warm-up (first touch of the output pages)
    t0 = time.perf_counter()
    out.addmm_(probe.T, probe)
    gemm = time.perf_counter() - t0
    rate = probe.shape[0] * a.features**2 / gemm  # multiply-adds per second
    limit = a.chunks * a.features**2 / rate
    print(f"identical counts on the first {r} chunks: {same}")
    print(
        f"batched: {fast / a.chunks * 1e3:.2f} ms/chunk; per-chunk outer product: "
        f"{slow / a.chunks * 1e3:.1f} ms/chunk; speed-up {slow / fast:.0f}x (target >= 100x); "
        f"one-off finalisation {final:.1f} s"
    )
    print(
        f"GEMM rate {rate / 1e9:.1f} G multiply-add/s; arithmetic limit "
        f"{limit / a.chunks * 1e3:.2f} ms/chunk; "
        f"batched / limit = {fast / limit:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    main()
