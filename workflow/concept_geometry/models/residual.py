"""Residual-stream capture with forward hooks, one pass, stopping after the deepest layer.

Layer convention (Gemma Scope / TransformerLens ``blocks.L.hook_resid_post``): layer ``L``
is the output of block ``L`` (0-based). The special layer ``"embed"`` is the input of
block 0 (``blocks.0.hook_resid_pre``: the token embedding, including any scaling the model
applies before its first block, e.g. Gemma's √d).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import ConfigError
from .loading import model_blocks


class _Stop(Exception):
    """Raised inside the deepest hook to end the forward pass early."""


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def check_layers(model, layers: Sequence, key: str = "layers") -> None:
    """Refuse layers the model does not have, naming the config key."""
    n = len(model_blocks(model))
    bad = [
        layer
        for layer in layers
        if layer != "embed" and not (isinstance(layer, int) and 0 <= layer < n)
    ]
    if bad:
        raise ConfigError(
            f"Invalid config: key `{key}` asks for layer(s) {bad}, but the model has {n} blocks "
            f'(valid layers: 0..{n - 1}, or "embed" for the embedding output). Fix `{key}`.'
        )


@torch.no_grad()
def residual_stream(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, layers: Sequence
) -> dict:
    """Residual stream at ``layers`` for one batch.

    input_ids, attention_mask: (batch, seq). Returns {layer: (batch, seq, d_model) float32}.
    The forward pass stops as soon as the deepest requested block has run.
    """
    blocks = model_blocks(model)
    check_layers(model, layers)
    wanted = set(layers)
    deepest = max((layer for layer in wanted if layer != "embed"), default=None)
    captured: dict = {}
    handles = []

    def post_hook(index):
        def hook(module, args, output):
            captured[index] = _first(output).detach().float()
            if index == deepest:
                raise _Stop

        return hook

    def pre_hook(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        captured["embed"] = hidden.detach().float()
        if deepest is None:
            raise _Stop

    try:
        if "embed" in wanted:
            handles.append(blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True))
        for index in sorted(layer for layer in wanted if layer != "embed"):
            handles.append(blocks[index].register_forward_hook(post_hook(index)))
        try:
            model(input_ids=input_ids, attention_mask=attention_mask)
        except _Stop:
            pass
    finally:
        for h in handles:
            h.remove()
    return {layer: captured[layer] for layer in layers}
