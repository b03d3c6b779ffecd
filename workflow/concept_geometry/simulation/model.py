"""The log-linear model p̂(y | x) = softmax_y(f(x)ᵀ g(y)) and its training (paper §2, §5.1).

f (one free vector per training context) and g (one free vector per kept output) are learned
by full-batch Adam from a small Gaussian initialisation, minimising the cross-entropy to the
exact conditionals. Everything is float64 on CPU, so a run is deterministic given its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

__all__ = ["TrainConfig", "TrainResult", "train_log_linear", "cross_entropy", "entropy"]


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (config keys simulation.steps, lr, init_scale, log_every)."""

    steps: int = 2000
    lr: float = 0.05
    init_scale: float = 1e-3
    log_every: int = 50
    optimizer: str = "gd"  # "gd" (plain full-batch gradient descent) or "adam"


@dataclass
class TrainResult:
    """f: (n_contexts, d); g: (n_outputs, d); curve: one dict per logged step."""

    f: np.ndarray
    g: np.ndarray
    final_loss: float
    curve: list[dict] = field(default_factory=list)


def entropy(targets: np.ndarray) -> float:
    """Mean entropy (nats) of the target rows (n, k): the lowest reachable cross-entropy."""
    t = np.asarray(targets, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(t > 0, t * np.log(t), 0.0).sum(axis=1)
    return float(h.mean())


def cross_entropy(f: np.ndarray, g: np.ndarray, targets: np.ndarray) -> float:
    """Mean over contexts of -Σ_y p(y|x) log softmax(f gᵀ)[x, y] (nats)."""
    logits = np.asarray(f, dtype=np.float64) @ np.asarray(g, dtype=np.float64).T
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-(np.asarray(targets) * logp).sum(axis=1).mean())


def train_log_linear(targets: np.ndarray, d: int, cfg: TrainConfig, seed: int,
                     monitor: Callable[[np.ndarray, np.ndarray], dict] | None = None,
                     progress: bool = False) -> TrainResult:
    """Fit f, g so that softmax(f gᵀ) matches ``targets`` (n_contexts, n_outputs).

    seed: initialisation seed (f, g ~ N(0, init_scale²)). monitor(f, g) -> dict of metrics is
    called every ``cfg.log_every`` steps and at the end; its values join the loss in ``curve``.
    """
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    gen = torch.Generator().manual_seed(int(seed))
    n, k = targets.shape
    t = torch.as_tensor(np.asarray(targets, dtype=np.float64))
    f = (torch.randn(n, d, generator=gen, dtype=torch.float64) * cfg.init_scale).requires_grad_()
    g = (torch.randn(k, d, generator=gen, dtype=torch.float64) * cfg.init_scale).requires_grad_()
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam([f, g], lr=cfg.lr)
    elif cfg.optimizer == "gd":
        opt = torch.optim.SGD([f, g], lr=cfg.lr)
    else:
        raise ValueError(f"optimizer must be 'gd' or 'adam', got {cfg.optimizer!r}")
    curve: list[dict] = []

    def record(step: int, loss: float) -> None:
        row = {"step": step, "loss": loss}
        if monitor is not None:
            row.update(monitor(f.detach().numpy().copy(), g.detach().numpy().copy()))
        curve.append(row)

    steps = range(cfg.steps)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, mininterval=5.0)
    for step in steps:
        opt.zero_grad(set_to_none=True)
        logp = torch.log_softmax(f @ g.T, dim=1)
        loss = -(t * logp).sum(dim=1).mean()
        if step % cfg.log_every == 0:
            record(step, float(loss.detach()))
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float(-(t * torch.log_softmax(f @ g.T, dim=1)).sum(dim=1).mean())
    record(cfg.steps, final)
    return TrainResult(f=f.detach().numpy().copy(), g=g.detach().numpy().copy(),
                       final_loss=final, curve=curve)
