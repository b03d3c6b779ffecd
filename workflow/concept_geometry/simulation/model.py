"""The log-linear model p̂(y | x) = softmax_y(f(x)ᵀ g(y)) and its training (paper §2, §5.1).

f (one free vector per training context) and g (one free vector per kept output) are learned
by full-batch optimisation from a small Gaussian initialisation, minimising the cross-entropy
to the exact conditionals: plain gradient descent by default (``optimizer="gd"``, the paper's
setting, whose implicit bias the theory invokes), or Adam (``optimizer="adam"``) for
contrast. Everything is float64 on CPU, so a run is deterministic given its seed.

A run whose loss becomes non-finite or exceeds ``DIVERGENCE_FACTOR`` × its initial value
stops with :class:`TrainingDiverged` (a user error naming the learning rate), never with
garbage numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import ConfigError

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "DIVERGENCE_FACTOR",
    "GD_LR_PER_OUTPUT",
    "ADAM_LR",
    "auto_lr",
    "train_log_linear",
    "cross_entropy",
    "entropy",
    "concept_log_odds",
]

DIVERGENCE_FACTOR = 10.0  # a loss above this multiple of the initial loss counts as diverged

# `lr: auto` for plain GD: lr = GD_LR_PER_OUTPUT × 2^m. The Hessian of one context's
# cross-entropy in its logits is diag(p) − ppᵀ, whose norm is ≈ 1/k while the prediction is
# spread over k outputs (exactly 1/k at the uniform start), so the stable step grows ∝ k =
# 2^m. 20/64 keeps m = 6 at the lr = 20 the study has always used; a short probe (benchmarks/
# simulation_lr.py) finds lr ∝ 2^m to sit inside the stable, converging range for m = 2…10.
GD_LR_PER_OUTPUT = 20.0 / 64
ADAM_LR = 0.05  # Adam's step is per-coordinate and scale-free: no dependence on the problem


def auto_lr(optimizer: str, m: int) -> float:
    """The learning rate `simulation.lr: auto` means for ``optimizer`` at m concepts."""
    if optimizer == "adam":
        return ADAM_LR
    if optimizer == "gd":
        return GD_LR_PER_OUTPUT * 2**m
    raise ValueError(f"optimizer must be 'gd' or 'adam', got {optimizer!r}")


class TrainingDiverged(ConfigError):
    """Training blew up (non-finite loss, or above DIVERGENCE_FACTOR × the initial loss).

    ``step`` is the step at which it was detected, ``loss`` the offending value.
    """

    def __init__(self, message: str, step: int = -1, loss: float = float("nan")):
        super().__init__(message)
        self.step = step
        self.loss = loss


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (config keys simulation.steps, lr, init_scale, log_every,
    optimizer; ``lr`` is a number here, `auto` is resolved by :func:`auto_lr`)."""

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


def train_log_linear(
    targets: np.ndarray,
    d: int,
    cfg: TrainConfig,
    seed: int,
    monitor: Callable[[np.ndarray, np.ndarray], dict] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Fit f, g so that softmax(f gᵀ) matches ``targets`` (n_contexts, n_outputs).

    seed: initialisation seed (f, g ~ N(0, init_scale²)). monitor(f, g) -> dict of metrics is
    called every ``cfg.log_every`` steps and at the end; its values join the loss in ``curve``.
    Raises :class:`TrainingDiverged` as soon as the loss is non-finite or exceeds
    ``DIVERGENCE_FACTOR`` × the loss at step 0.
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
    initial = None

    def check(step: int, value: float) -> None:
        if not np.isfinite(value) or value > DIVERGENCE_FACTOR * initial:
            raise TrainingDiverged(
                f"training diverged at step {step}: loss {value:.4g} (initial {initial:.4g}, "
                f"{cfg.optimizer} at lr {cfg.lr:g})",
                step=step,
                loss=value,
            )

    for step in steps:
        opt.zero_grad(set_to_none=True)
        logp = torch.log_softmax(f @ g.T, dim=1)
        loss = -(t * logp).sum(dim=1).mean()
        value = float(loss.detach())
        if initial is None:
            initial = value
        check(step, value)
        if step % cfg.log_every == 0:
            record(step, value)
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float(-(t * torch.log_softmax(f @ g.T, dim=1)).sum(dim=1).mean())
    if initial is None:
        initial = final
    check(cfg.steps, final)
    record(cfg.steps, final)
    return TrainResult(
        f=f.detach().numpy().copy(), g=g.detach().numpy().copy(), final_loss=final, curve=curve
    )


def concept_log_odds(f: np.ndarray, g: np.ndarray, concept_bits: np.ndarray) -> np.ndarray:
    """The model's log-odds of one concept in every context, shape (n_contexts,).

    f: (n_contexts, d), g: (n_outputs, d) the outputs the softmax runs over; concept_bits:
    (n_outputs,) in {0, 1}, the concept's value in each output's concept vector. With
    p̂(y | x) = softmax_y(f(x)ᵀg(y)), the log-odds is
    log P̂(C_i = 1 | x) − log P̂(C_i = 0 | x) = logsumexp_{y: c_i(y)=1} f(x)ᵀg(y)
    − logsumexp_{y: c_i(y)=0} f(x)ᵀg(y) (the softmax's normaliser cancels).
    Jiang et al. §3 (log-odds matching).
    """
    bits = np.asarray(concept_bits).astype(bool)
    if bits.all() or not bits.any():
        raise ValueError("the outputs must include both values of the concept")
    logits = np.asarray(f, dtype=np.float64) @ np.asarray(g, dtype=np.float64).T
    return _logsumexp(logits[:, bits]) - _logsumexp(logits[:, ~bits])


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]
