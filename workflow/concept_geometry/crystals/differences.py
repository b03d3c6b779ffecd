"""Relation pairs → difference vectors (output − input) at one or more model layers.

Li et al. 2024, atom scale: the residual at each word's last token, with the word run
alone (with BOS); one difference vector per usable pair. Pairs whose words are unknown to
the tokenizer, empty, or identical after tokenisation are dropped and counted, as are the
pairs of relations left with fewer than ``min_pairs_per_relation`` usable pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputDataError
from .residuals import last_token_residuals, pair_status, tokenize_words


@dataclass
class Differences:
    """Per used pair, at one layer.

    inputs, outputs: (n_used, d) float32 residuals of the input / output word.
    differences: (n_used, d) float32, outputs − inputs.
    relation: (n_used,) str; length_input, length_output, length_diff: (n_used,) int tokens.
    last_subword_chars_input, _output, _diff: (n_used,) int, characters of each word's last
        subword string and their difference output − input (the official covariate).
    pair_id: (n_used,) int, the row of the first copy of each row's (relation, input, output)
    pair: a relation file that repeats a pair gives rows sharing an id (faithful statistics
    keep the repeats, as the official code does; corrected ones use each pair once).
    """

    inputs: np.ndarray
    outputs: np.ndarray
    relation: np.ndarray
    length_input: np.ndarray
    length_output: np.ndarray
    last_subword_chars_input: np.ndarray
    last_subword_chars_output: np.ndarray
    pair_id: np.ndarray

    @property
    def differences(self) -> np.ndarray:
        return self.outputs - self.inputs

    @property
    def length_diff(self) -> np.ndarray:
        return self.length_output - self.length_input

    @property
    def last_subword_chars_diff(self) -> np.ndarray:
        return self.last_subword_chars_output - self.last_subword_chars_input

    def arrays(self) -> dict:
        """The arrays of ``differences.npz``."""
        return dict(
            inputs=self.inputs,
            outputs=self.outputs,
            differences=self.differences,
            relation=self.relation.astype(str),
            length_input=self.length_input,
            length_output=self.length_output,
            length_diff=self.length_diff,
            last_subword_chars_input=self.last_subword_chars_input,
            last_subword_chars_output=self.last_subword_chars_output,
            last_subword_chars_diff=self.last_subword_chars_diff,
            pair_id=self.pair_id,
        )


def screen_pairs(pairs: pd.DataFrame, tokenizer, min_pairs_per_relation: int):
    """Tokenise every distinct word once and decide which pairs are used.

    Returns (status frame as ``pair_status`` plus reason ``relation_too_small`` and a bool
    ``duplicate`` column, true on each repeat of an earlier pair of its relation; relations
    are too small when their *distinct* usable pairs are, words, tokens).
    """
    words = list(dict.fromkeys(pairs["input"].tolist() + pairs["output"].tolist()))
    tokens = tokenize_words(tokenizer, words)
    status = pair_status(pairs, words, tokens)
    # A pair repeated in its relation file is one pair: flagged, and counted once below.
    status["duplicate"] = status.duplicated(["relation", "input", "output"])
    counts = status[status["used"] & ~status["duplicate"]].groupby("relation").size()
    small = [r for r in status["relation"].unique() if counts.get(r, 0) < min_pairs_per_relation]
    drop = status["relation"].isin(small) & status["used"]
    status.loc[drop, "reason"] = "relation_too_small"
    status.loc[drop, "used"] = False
    return status, words, tokens


def check_usable(status: pd.DataFrame) -> None:
    """Refuse to go on with fewer than 2 relations left, saying why pairs were dropped."""
    kept = status.loc[status["used"], "relation"].nunique()
    if kept < 2:
        reasons = status["reason"].value_counts().to_dict()
        raise InputDataError(
            f"Only {kept} relation(s) have usable pairs after screening (pairs by reason: "
            f"{reasons}); the crystals analysis needs at least 2. Unknown words are words the "
            f"model's tokenizer maps to its unk token: use relations in the model's language, "
            f"another model (`crystals.model.path`), or lower `crystals.min_pairs_per_relation`."
        )


def relation_differences(
    model,
    tokenizer,
    pairs: pd.DataFrame,
    layers: Sequence,
    min_pairs_per_relation: int,
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = True,
    convention: str = "block_output",
):
    """Difference vectors of the usable pairs at each of ``layers`` (read under the layer
    ``convention``, see ``residuals``).

    pairs: frame (relation, input, output). Only the words of used pairs go through the
    model. Returns (status frame, {layer: Differences}).
    """
    status, words, tokens = screen_pairs(pairs, tokenizer, min_pairs_per_relation)
    used = status[status["used"]]
    needed = list(dict.fromkeys(used["input"].tolist() + used["output"].tolist()))
    index = {w: i for i, w in enumerate(words)}
    rows = np.array([index[w] for w in needed], dtype=np.int64)
    sub = tokens.subset(rows)
    res = (
        last_token_residuals(
            model,
            sub,
            layers,
            batch_size=batch_size,
            device=device,
            progress=progress,
            convention=convention,
        )
        if needed
        else {}
    )
    pos = {w: i for i, w in enumerate(needed)}
    a = used["input"].map(pos).to_numpy(dtype=np.int64)
    b = used["output"].map(pos).to_numpy(dtype=np.int64)
    key = list(zip(used["relation"], used["input"], used["output"], strict=False))
    first = {}
    pair_id = np.array([first.setdefault(k, n) for n, k in enumerate(key)], dtype=np.int64)
    out = {}
    for layer in layers:
        R = res.get(layer, np.zeros((0, 0), dtype=np.float32))
        out[layer] = Differences(
            R[a],
            R[b],
            used["relation"].to_numpy().astype(str),
            used["n_tokens_input"].to_numpy(),
            used["n_tokens_output"].to_numpy(),
            used["last_subword_chars_input"].to_numpy(),
            used["last_subword_chars_output"].to_numpy(),
            pair_id,
        )
    return status, out
