"""Training a ReLU SAE here (the ``train`` way of ``sae.py``; units as described there)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TrainResult:
    sae: object  # the inference StandardSAE (scale folded in)
    scale: float  # input rescaling folded into the weights
    losses: np.ndarray  # (steps,) total loss per step
    explained_variance: float  # on the held-back 10% of the sample
    l0: float  # mean active features per token on the held-back part


def lr_factor(step: int, steps: int) -> float:
    """Learning-rate multiplier at ``step`` of ``steps``: 1 for the first 80% of the steps,
    then linear to 0 at ``steps``."""
    decay_start = int(0.8 * steps)
    if step < decay_start:
        return 1.0
    return max(0.0, (steps - step) / max(1, steps - decay_start))


def l1_at(step: int, l1_coefficient: float, warm_up_steps: int) -> float:
    """L1 coefficient at ``step`` (0-based): ramped linearly over ``warm_up_steps`` (0: none)."""
    if not warm_up_steps:
        return l1_coefficient
    return l1_coefficient * min(1.0, (step + 1) / warm_up_steps)


def train_sae(
    acts: np.ndarray,
    width: int,
    steps: int,
    batch_size: int,
    lr: float,
    l1_coefficient: float,
    l1_warm_up_steps: int,
    seed: int,
    progress: bool = True,
) -> TrainResult:
    """Train a ReLU SAE (SAELens ``StandardTrainingSAE``) on token activations.

    acts: (n_tokens, d_model) float32 sample of residual activations. Uses 90% to train
    (Adam, lr decayed linearly to 0 over the last 20% of steps, L1 warm-up; decoder rows
    folded to unit norm at the end) and reports explained variance and L0 on the
    remaining 10%. Returns the inference ``StandardSAE`` taking raw activations.
    """
    from sae_lens import StandardSAE, StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.saes.sae import TrainStepInput
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.as_tensor(np.asarray(acts, dtype=np.float32))
    n, d = x_all.shape
    perm = torch.randperm(n, generator=gen)
    n_eval = max(1, n // 10) if n > 1 else 0
    x_eval, x_train = x_all[perm[:n_eval]], x_all[perm[n_eval:]]
    scale = float(np.sqrt(d / (x_train.pow(2).sum(1).mean().item() + 1e-12)))
    x_train = x_train * scale

    cfg = StandardTrainingSAEConfig(
        d_in=d,
        d_sae=width,
        l1_coefficient=l1_coefficient,
        l1_warm_up_steps=l1_warm_up_steps,
        decoder_init_norm=0.1,
    )
    sae = StandardTrainingSAE(cfg)
    with torch.no_grad():
        sae.b_dec.copy_(x_train.mean(0))
    opt = torch.optim.Adam(sae.parameters(), lr=lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps))
    losses = np.zeros(steps, dtype=np.float32)
    bar = tqdm(range(steps), desc=f"train SAE d={d} F={width}", disable=not progress, mininterval=2)
    for step in bar:
        idx = torch.randint(
            0, x_train.shape[0], (min(batch_size, x_train.shape[0]),), generator=gen
        )
        coef = l1_at(step, l1_coefficient, l1_warm_up_steps)
        out = sae.training_forward_pass(
            TrainStepInput(
                sae_in=x_train[idx],
                coefficients={"l1": coef},
                dead_neuron_mask=None,
                n_training_steps=step,
                is_logging_step=False,
            )
        )
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        sched.step()
        losses[step] = out.loss.item()
        if step % 100 == 0:
            bar.set_postfix(loss=f"{losses[step]:.3f}")

    with torch.no_grad():
        # Unit-norm decoder rows in the rescaled space, so an activation is the norm of the
        # feature's contribution there (as with Gemma Scope's decoder).
        sae.fold_W_dec_norm()
    inference = StandardSAE.from_dict(cfg.get_inference_sae_cfg_dict())
    state = {k: v for k, v in sae.state_dict().items() if k in inference.state_dict()}
    inference.load_state_dict(state)
    inference.fold_activation_norm_scaling_factor(scale)
    inference.eval()
    ev, l0 = reconstruction_stats(inference, x_eval)
    return TrainResult(inference, scale, losses, ev, l0)


@torch.no_grad()
def reconstruction_stats(sae, x: torch.Tensor) -> tuple[float, float]:
    """(explained variance 1 - SSE/SST, mean L0 per token) of ``sae`` on x: (n, d_model)."""
    if x.shape[0] == 0:
        return float("nan"), float("nan")
    feats = sae.encode(x)
    recon = sae.decode(feats)
    sse = (recon - x).pow(2).sum().item()
    sst = (x - x.mean(0)).pow(2).sum().item()
    return 1.0 - sse / max(sst, 1e-12), (feats > 0).float().sum(1).mean().item()
