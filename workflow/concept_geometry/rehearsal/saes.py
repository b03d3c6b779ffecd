"""The rehearsal's Gemma Scope-format SAEs, thresholds calibrated to the built model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..io import atomic_dir
from .paths import PRODUCER
from .sizes import RehearsalSizes
from .store import _identity, _skip


def residual_norms(
    model_dir: Path, corpus: Path, sizes: RehearsalSizes, layers: list[int]
) -> dict[int, float]:
    """Mean residual-stream norm after each block in ``layers`` over a few corpus tokens
    (BOS excluded), for calibrating the SAE thresholds to the model actually built."""
    import torch

    from ..models.loading import load_model, load_tokenizer
    from ..models.residual import residual_stream

    tokenizer = load_tokenizer(str(model_dir), "rehearsal.gemma")
    model = load_model(str(model_dir), "rehearsal.gemma", dtype="bfloat16")
    with open(corpus, encoding="utf-8") as fh:
        texts = [json.loads(next(fh))["text"] for _ in range(sizes.calibration_docs)]
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=sizes.calibration_tokens,
        return_tensors="pt",
        padding=True,
    )
    with torch.no_grad():
        resid = residual_stream(model, enc["input_ids"], enc["attention_mask"], layers)
    mask = enc["attention_mask"].bool().clone()
    mask[:, 0] = False  # the BOS position (dropped by the features stage too)
    return {layer: float(resid[layer][mask].norm(dim=-1).mean()) for layer in layers}


def gemma_scope_params(d_model: int, width: int, norm: float, target_l0: float, seed: int) -> dict:
    """A Gemma Scope JumpReLU SAE (params.npz arrays) with random unit decoder rows.

    W_enc[:, f] = W_dec[f] · √d / norm, b_enc = 0, so on a residual of norm ``norm`` in a
    random direction a pre-activation is ≈ N(0, 1); threshold = its upper (target_l0/width)
    quantile, so about target_l0 features fire per token, each with activation > threshold.
    """
    from scipy.stats import norm as gauss

    rng = np.random.default_rng(seed)
    w_dec = rng.standard_normal((width, d_model), dtype=np.float32)
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_enc = np.ascontiguousarray(w_dec.T * np.float32(math.sqrt(d_model) / norm))
    z = float(gauss.isf(min(1.0, target_l0 / width)))
    return {
        "W_enc": w_enc,
        "W_dec": w_dec,
        "b_enc": np.zeros(width, np.float32),
        "b_dec": np.zeros(d_model, np.float32),
        "threshold": np.full(width, max(z, 1.0), np.float32),
    }


def build_sae(
    build_dir: Path,
    template: str,
    layer: int,
    width: int,
    d_model: int,
    norm: float,
    target_l0: float,
    seed: int,
    force: bool = False,
) -> dict:
    path = build_dir / template.replace("{layer}", str(layer))
    part = {"width": width, "d_model": d_model, "norm": round(norm, 4), "target_l0": target_l0}
    ident = _identity(
        part, seed, model="gemma-2-2b", layer=layer, sae=template.replace("{layer}", str(layer))
    )
    if not _skip(path, ident, force):
        params = gemma_scope_params(d_model, width, norm, target_l0, seed + 100 + layer)
        with atomic_dir(path, PRODUCER, ident) as tmp:
            np.savez(tmp / "params.npz", **params)
    return {
        "path": str(path),
        "layer": layer,
        "width": width,
        "residual_norm": norm,
        "identity": ident,
    }
