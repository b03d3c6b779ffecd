"""Each word run alone through the model; the residual stream at its last token.

Li et al. 2024, atom scale: every word of a relation pair is run on its own, with the
tokenizer's special tokens (Gemma/Llama: ``<bos> word``; BERT/MiniLM: ``[CLS] word [SEP]``),
and the residual at the word's *last own token* is kept (for BERT that is the token before
[SEP], not [SEP]). A word is *unknown* when any of its tokens is the tokenizer's unk token
(its residual would not be the word's), and *empty* when it has no tokens of its own.

Two layer conventions (``crystals.layer_convention``):
- ``block_output``: layer L is the output of block L (``blocks.L.hook_resid_post``, as the
  lobes and galaxy stages), ``"embed"`` the input of block 0;
- ``hidden_states``: layer L is transformers' ``hidden_states[L]``, as the official
  ``compute_embedding`` reads it (ejmichaud/feature-geometry ``atom/crystal_pca.py``, line
  55): the input of block L (= output of block L−1), 0 the embedding, and ``n_blocks`` the
  last block's output after the model's final norm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..models.loading import n_layers
from ..models.residual import residual_stream
from .config import check_crystal_layers


def residuals_at(model, input_ids, attention_mask, layers: Sequence, convention: str) -> dict:
    """Residual stream {layer: (batch, seq, d) float32} at ``layers`` under ``convention``.

    hidden_states[L] for 0 < L < n is the output of block L − 1 and hidden_states[0] the
    input of block 0, so both come from the early-stopping hooks; hidden_states[n] also
    has the final norm applied, so it needs transformers' own ``hidden_states``.
    """
    if convention == "block_output":
        return residual_stream(model, input_ids, attention_mask, list(layers))
    n = n_layers(model)
    check_crystal_layers(layers, n, convention)
    if n in layers:
        import torch

        with torch.no_grad():  # the base model: no (batch, seq, vocab) logits
            hs = model.base_model(
                input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
            ).hidden_states
        return {layer: hs[layer].detach().float() for layer in layers}
    hooks = {layer: "embed" if layer == 0 else layer - 1 for layer in layers}
    res = residual_stream(model, input_ids, attention_mask, list(dict.fromkeys(hooks.values())))
    return {layer: res[h] for layer, h in hooks.items()}


@dataclass
class WordTokens:
    """Tokenised words.

    ids: list of token-id lists (with special tokens), one per word.
    last: (n_words,) int, index of the word's last own (non-special) token in ``ids[i]``.
    n_tokens: (n_words,) int, number of the word's own tokens (0 when empty).
    unknown: (n_words,) bool, some own token is the unk token.
    last_subword_chars: (n_words,) int, characters of the word's last subword string
        ``tokenizer.tokenize(word)[-1]`` (with its '▁' or '##' marker; 0 when empty): the
        official distractor covariate (``atom/crystal_interp_pc0.py``, line 69).
    """

    ids: list
    last: np.ndarray
    n_tokens: np.ndarray
    unknown: np.ndarray
    last_subword_chars: np.ndarray

    def subset(self, rows: np.ndarray) -> "WordTokens":
        """The words at ``rows``."""
        return WordTokens(
            [self.ids[r] for r in rows],
            self.last[rows],
            self.n_tokens[rows],
            self.unknown[rows],
            self.last_subword_chars[rows],
        )


def tokenize_words(tokenizer, words: Sequence[str]) -> WordTokens:
    """Tokenise each word alone with the tokenizer's special tokens (BOS prepended when the
    tokenizer has one and did not add it itself)."""
    enc = tokenizer(list(words), add_special_tokens=True, return_special_tokens_mask=True)
    bos, unk = tokenizer.bos_token_id, tokenizer.unk_token_id  # None when it has none
    ids, last, n_tok, unknown = [], [], [], []
    for seq, special in zip(enc["input_ids"], enc["special_tokens_mask"], strict=False):
        seq, special = list(seq), list(special)
        if bos is not None and (not seq or seq[0] != bos):
            seq, special = [bos] + seq, [1] + special
        own = [i for i, s in enumerate(special) if not s]
        ids.append(seq)
        last.append(own[-1] if own else -1)
        n_tok.append(len(own))
        unknown.append(unk is not None and any(seq[i] == unk for i in own))
    # The official covariate reads tokenize()'s strings, not the ids' (same pieces, but the
    # string is what it measures).
    chars = [len(pieces[-1]) if pieces else 0 for pieces in map(tokenizer.tokenize, words)]
    return WordTokens(
        ids,
        np.asarray(last, dtype=np.int64),
        np.asarray(n_tok, dtype=np.int64),
        np.asarray(unknown, dtype=bool),
        np.asarray(chars, dtype=np.int64),
    )


def last_token_residuals(
    model,
    tokens: WordTokens,
    layers: Sequence,
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = True,
    convention: str = "block_output",
) -> dict:
    """Residual stream at each word's last own token, for every layer in ``layers``
    (read under ``convention``, see the module docstring).

    Words are sorted by length and batched with right padding (the attention mask hides the
    pads; positions before them are unchanged, so the pad id, 0, never reaches a result). Words
    with ``last < 0`` (empty) get zeros.
    Returns {layer: (n_words, d_model) float32}.
    """
    import torch
    from tqdm import tqdm

    n = len(tokens.ids)
    order = np.argsort([len(s) for s in tokens.ids], kind="stable")
    out: dict = {}
    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc="words", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        width = max(len(tokens.ids[r]) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            seq = tokens.ids[r]
            ids[j, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[j, : len(seq)] = 1
        res = residuals_at(model, ids.to(device), mask.to(device), list(layers), convention)
        pos = torch.as_tensor(np.maximum(tokens.last[rows], 0), device=device)
        take = torch.arange(len(rows), device=device)
        for layer in layers:
            vec = res[layer][take, pos].cpu().numpy()
            if layer not in out:
                out[layer] = np.zeros((n, vec.shape[1]), dtype=np.float32)
            out[layer][rows] = vec
    for layer in out:
        out[layer][tokens.last < 0] = 0.0
    return out


def pair_status(pairs: pd.DataFrame, words: Sequence[str], tokens: WordTokens) -> pd.DataFrame:
    """Per pair: token lengths and whether it is used (reason ``ok``) or dropped.

    pairs: frame with input, output. ``words``/``tokens`` cover every input/output word.
    Returns ``pairs`` plus n_tokens_input, n_tokens_output, length_diff (output − input
    tokens, the corrected distractor covariate), last_subword_chars_input / _output and
    last_subword_chars_diff (output − input: the official covariate, ``crystal_interp_pc0.py``
    line 113), used (bool), reason (ok | unknown_input | unknown_output | unknown_both |
    empty_input | empty_output | identical).
    """
    index = {w: i for i, w in enumerate(words)}
    a = pairs["input"].map(index).to_numpy()
    b = pairs["output"].map(index).to_numpy()
    out = pairs.copy()
    out["n_tokens_input"] = tokens.n_tokens[a]
    out["n_tokens_output"] = tokens.n_tokens[b]
    out["length_diff"] = out["n_tokens_output"] - out["n_tokens_input"]
    out["last_subword_chars_input"] = tokens.last_subword_chars[a]
    out["last_subword_chars_output"] = tokens.last_subword_chars[b]
    out["last_subword_chars_diff"] = (
        out["last_subword_chars_output"] - out["last_subword_chars_input"]
    )
    unk_a, unk_b = tokens.unknown[a], tokens.unknown[b]
    reason = np.full(len(out), "ok", dtype=object)
    # Words that tokenise identically (e.g. "café"/"cafe" under an accent-stripping
    # tokenizer) give a zero difference vector, whose direction is undefined.
    same = np.array(
        [tokens.ids[i] == tokens.ids[j] for i, j in zip(a, b, strict=False)], dtype=bool
    )
    reason[same] = "identical"
    reason[unk_a & ~unk_b] = "unknown_input"
    reason[unk_b & ~unk_a] = "unknown_output"
    reason[unk_a & unk_b] = "unknown_both"
    reason[tokens.n_tokens[a] == 0] = "empty_input"
    reason[tokens.n_tokens[b] == 0] = "empty_output"
    out["used"] = reason == "ok"
    out["reason"] = reason
    return out
