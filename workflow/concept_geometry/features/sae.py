"""One SAE per layer, three ways (pretrained / local / train), one SAELens object.

- ``pretrained``: SAELens ``SAE.from_pretrained(release, sae_id)`` (e.g. Gemma Scope
  ``gemma-scope-2b-pt-res`` / ``layer_12/width_16k/average_l0_41``, Li et al. 2024 "Data").
- ``local``: a folder written by SAELens ``save_model`` (cfg.json + sae_weights.safetensors),
  or a Gemma Scope folder holding ``params.npz`` (W_enc, W_dec, b_enc, b_dec, threshold).
- ``train``: a SAELens ``StandardTrainingSAE`` (ReLU + L1) trained here on a cached sample of
  residual activations; saved as the inference ``StandardSAE``.

Units of a trained SAE: it is trained on activations rescaled by one constant so that
E‖x‖² = d_model (SAELens's ``expected_average_only_in`` convention); the constant is then
folded into the weights (``fold_activation_norm_scaling_factor``), so the saved SAE takes raw
residual activations and its feature activations stay in the rescaled units, where the
firing threshold (``features.threshold``) means the same whatever the model's residual norm.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, MissingResourceError
from .sae_training import TrainResult, l1_at, lr_factor, reconstruction_stats, train_sae  # noqa: F401 (re-exported)


def format_layer(template: str | None, layer) -> str | None:
    """``sae_id``/``path`` with ``{layer}`` replaced by the layer."""
    return None if template is None else str(template).replace("{layer}", str(layer))


def sae_description(spec: dict, layer) -> dict:
    """What identifies the SAE of ``layer`` (for meta.json)."""
    out = {"source": spec["source"]}
    if spec["source"] == "pretrained":
        out.update(release=spec["release"], sae_id=format_layer(spec["sae_id"], layer))
    elif spec["source"] == "local":
        out.update(path=format_layer(spec["path"], layer))
    else:
        out.update(
            {
                k: spec[k]
                for k in (
                    "width",
                    "steps",
                    "batch_size",
                    "lr",
                    "l1_coefficient",
                    "l1_warm_up_steps",
                    "n_train_tokens",
                )
            }
        )
    return out


def load_pretrained_sae(
    release: str, sae_id: str, key: str, device: str = "cpu", dtype: str = "float32"
):
    """SAELens ``SAE.from_pretrained``; fails in seconds when the hub is unreachable."""
    from sae_lens import SAE

    from ..models.loading import hub_reachable

    how = (
        f"To run offline, download it on a machine with network access (e.g. in Python: "
        f"`SAE.from_pretrained('{release}', '{sae_id}').save_model('/path/to/sae')` with sae_lens, "
        f"or the Gemma Scope folder with params.npz from the hub), copy the folder here and set "
        f"`{key}.source: local` and `{key}.path: /path/to/sae` (`{{layer}}` in the path is "
        f"replaced by each layer)."
    )
    if not hub_reachable():
        raise MissingResourceError(
            f"The pretrained SAE `{release}` / `{sae_id}` (config key `{key}`) must be downloaded "
            f"from the Hugging Face hub, which is not reachable from this machine. {how}"
        )
    try:
        return SAE.from_pretrained(release, sae_id, device=device, dtype=dtype)
    except (OSError, ValueError) as err:
        raise MissingResourceError(
            f"Could not load the pretrained SAE `{release}` / `{sae_id}` (config key `{key}`): "
            f"{str(err).splitlines()[0]}. {how}"
        ) from None


def load_gemma_scope_npz(path: str | Path, device: str = "cpu", dtype: str = "float32"):
    """A JumpReLU SAE from a Gemma Scope ``params.npz`` (W_enc (d, F), W_dec (F, d), b_enc,
    b_dec, threshold), as SAELens's gemma_2 loader builds it."""
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig

    with np.load(path) as data:
        state = {
            ("W_" + k[2:] if k.startswith("w_") else k): torch.tensor(data[k], dtype=torch.float32)
            for k in data.files
        }
    missing = {"W_enc", "W_dec", "b_enc", "b_dec", "threshold"} - set(state)
    if missing:
        raise MissingResourceError(
            f"{path} is not a Gemma Scope params.npz: it lacks {sorted(missing)}."
        )
    d_sae, d_in = state["W_dec"].shape
    cfg = JumpReLUSAEConfig(
        d_in=d_in, d_sae=d_sae, dtype="float32", device="cpu", apply_b_dec_to_input=False
    )
    sae = JumpReLUSAE(cfg)
    sae.load_state_dict({k: v for k, v in state.items() if k != "scaling_factor"})
    return sae.to(device=device, dtype=getattr(torch, dtype)).eval()


def load_local_sae(path: str | Path, key: str, device: str = "cpu", dtype: str = "float32"):
    """An SAE from a local folder: SAELens disk format, or a Gemma Scope params.npz folder."""
    from sae_lens import SAE

    path = Path(path)
    if (path / "cfg.json").exists():
        try:
            return SAE.load_from_disk(path, device=device, dtype=dtype).eval()
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise MissingResourceError(
                f"Could not load the SAE in {path} (config key `{key}`): "
                f"{str(err).splitlines()[0]}. "
                f"It must be a folder written by SAELens `save_model` (cfg.json + "
                f"sae_weights.safetensors)."
            ) from None
    if (path / "params.npz").exists() or path.suffix == ".npz":
        return load_gemma_scope_npz(
            path if path.suffix == ".npz" else path / "params.npz", device, dtype
        )
    raise MissingResourceError(
        f"SAE folder {path} (config key `{key}`) does not exist or holds neither cfg.json (SAELens "
        f"`save_model` output) nor params.npz (Gemma Scope). Check `{key}` (relative paths are "
        f"relative to the repository root; `{{layer}}` is replaced by the layer)."
    )


def check_d_in(sae, d_model: int, what: str) -> None:
    """Refuse an SAE whose input width differs from the model's hidden size."""
    if int(sae.cfg.d_in) != int(d_model):
        raise ConfigError(
            f"Invalid config: the SAE {what} has d_in = {sae.cfg.d_in}, but the model's residual "
            f"stream has hidden size {d_model}. Use SAEs trained on this model (or point "
            f"`features.model.path` at the model the SAEs were trained on)."
        )


_HOOK = re.compile(r"(?:blocks|layers)\.(\d+)\.(?:hook_)?([a-z_]+)")


def hook_layer(sae) -> tuple[int | None, str | None]:
    """(block whose output the SAE reads, hook name) from the SAE's metadata, as SAELens
    records it (``blocks.12.hook_resid_post``); (None, name or None) when it does not say.
    ``blocks.N.hook_resid_pre`` is the output of block N - 1."""
    meta = getattr(sae.cfg, "metadata", None)
    name = getattr(meta, "hook_name", None) if meta is not None else None
    if not name:
        return None, None
    match = _HOOK.search(str(name))
    if match is None:
        return None, str(name)
    block, site = int(match.group(1)), match.group(2)
    if site == "resid_post":
        return block, str(name)
    if site == "resid_pre":
        return block - 1, str(name)
    return None, str(name)


def check_hook_layer(sae, layer: int, what: str, key: str) -> None:
    """Refuse an SAE trained on another layer (or not on the residual stream after a block)
    than the one it is configured for; SAEs that do not record their hook pass."""
    block, name = hook_layer(sae)
    if name is None:
        return
    if block is None:
        raise ConfigError(
            f"Invalid config: the SAE {what} was trained on hook `{name}`, which is not the "
            "residual "
            f"stream after a block; this stage reads the residual stream after block {layer} "
            f"(`blocks.{layer}.hook_resid_post`). Give residual-stream SAEs in `{key}`."
        )
    if block != int(layer):
        raise ConfigError(
            f"Invalid config: the SAE {what} was trained on hook `{name}` (the residual stream "
            "after "
            f"block {block}), but it is configured for layer {layer}. Check `{key}` (its "
            "`{layer}` "
            f"placeholder must give each layer its own SAE) or `features.layers`."
        )


def check_sae_fits(sae, d_model: int, layer: int, key: str) -> None:
    """Both checks an SAE of config key ``key`` must pass before it encodes ``layer``."""
    check_d_in(sae, d_model, f"of layer {layer} ({key})")
    check_hook_layer(sae, layer, f"of layer {layer}", key)


def decoder_matrix(sae) -> np.ndarray:
    """W_dec: (n_features, d_model) float32."""
    return sae.W_dec.detach().float().cpu().numpy().astype(np.float32)
