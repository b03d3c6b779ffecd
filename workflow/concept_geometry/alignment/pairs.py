"""Counterfactual word pairs and Park et al.'s single-token filter (Jiang et al. §5, spec §3).

A concept is a text file of ``base<TAB>target`` lines (Park, Choe & Veitch 2023 format). A
pair is kept when each word tokenizes to BOS + exactly one token (or, for tokenizers without
a BOS token, to exactly one token) and the two token ids differ; every dropped pair records
why, so the pair yield of a tokenizer can be audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError

PAIR_COLUMNS = ["concept", "base", "target", "base_id", "target_id", "kept", "reason", "duplicate"]

# Reasons a pair is dropped (the `reason` column; "kept" for kept pairs).
KEPT = "kept"


@dataclass(frozen=True)
class Concept:
    """One concept: its name and its (base, target) word pairs, in file order."""

    name: str
    pairs: tuple[tuple[str, str], ...]


def concept_name(path: str | Path) -> str:
    """Concept name from a pair file: the stem without a leading ``NN_`` ordering prefix."""
    return re.sub(r"^\d+_", "", Path(path).stem)


def read_word_pairs(path: str | Path) -> Concept:
    """Read one ``base<TAB>target`` file (blank lines skipped). Raises InputDataError."""
    path = Path(path)
    pairs = []
    try:
        # utf-8-sig: a byte-order mark (Windows editors) is not part of the first base word
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputDataError(
            f"Word-pair file {path} is not UTF-8 text ({err.reason} at byte {err.start}). "
            f"Re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise InputDataError(
                f"Word-pair file {path}, line {n}: expected `base<TAB>target`, got {line!r}. "
                f"Fix the line (one tab-separated pair per line) or remove it."
            )
        pairs.append((parts[0].strip(), parts[1].strip()))
    if not pairs:
        raise InputDataError(
            f"Word-pair file {path} holds no pairs. Add `base<TAB>target` lines or delete the file."
        )
    return Concept(concept_name(path), tuple(pairs))


def read_concepts(folder: str | Path, key: str = "alignment.models[].concepts") -> list[Concept]:
    """Every ``*.txt`` pair file of ``folder``, sorted by file name (the concept order)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.txt"))  # none for a missing folder or a file
    if not files:
        raise InputDataError(
            f"Concept folder {folder} (config key `{key}`) has no `*.txt` word-pair files. "
            f"Point `{key}` at a folder of `base<TAB>target` files, e.g. `config/concepts`."
        )
    concepts = [read_word_pairs(f) for f in files]
    names = [c.name for c in concepts]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputDataError(
            f"Concept folder {folder}: concept names {dup} occur twice "
            f"(file names differ only in the `NN_` prefix). Rename the files."
        )
    return concepts


def write_concepts(folder: str | Path, concepts: Sequence[Concept]) -> None:
    """Write concepts as ``NN_<name>.txt`` pair files (the format ``read_concepts`` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(concepts))))
    for i, c in enumerate(concepts, start=1):
        text = "".join(f"{b}\t{t}\n" for b, t in c.pairs)
        (folder / f"{i:0{width}d}_{c.name}.txt").write_text(text, encoding="utf-8")


def _single_token(ids: list[int], require_bos: bool, bos_id, unk_id) -> tuple[int, str]:
    """(token id or -1, reason) for one word's token ids under Park's rule."""
    if require_bos:
        if not ids or ids[0] != bos_id:
            return -1, "no_bos"
        ids = ids[1:]
    if len(ids) == 0:
        return -1, "empty"
    if len(ids) > 1:
        return -1, f"multi_token({len(ids)})"
    if unk_id is not None and ids[0] == unk_id:
        return -1, "unknown_token"
    return ids[0], KEPT


def filter_pairs(
    tokenizer, concepts: Sequence[Concept], require_bos: bool = True, prefix_space: bool = False
) -> pd.DataFrame:
    """Park et al.'s pair filter over all concepts.

    require_bos: the word must encode (with special tokens) to [BOS, one token]; when False
        it must encode without special tokens to exactly one token (tokenizers with no BOS).
    prefix_space: prepend a space before encoding (BPE tokenizers that mark word starts).
    Returns a frame with ``PAIR_COLUMNS`` (one row per pair; ids -1 where not single-token;
    ``reason`` is ``kept`` or why the pair was dropped, e.g. ``base:multi_token(2)``,
    ``target:unknown_token``, ``same_id``; ``duplicate``: the pair repeats an earlier line
    of its concept. Duplicates are kept, as in Park et al.'s code, so the pair counts match
    theirs; the column counts them).
    """
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if require_bos and bos_id is None:
        raise ConfigError(
            "Invalid config: key `alignment.models[].require_bos` is true but the tokenizer has "
            "no BOS token. Set `require_bos: false` for this model (words must then encode to "
            "exactly one token without special tokens)."
        )
    unk_id = getattr(tokenizer, "unk_token_id", None)
    words = sorted({w for c in concepts for pair in c.pairs for w in pair})
    texts = [(" " + w) if prefix_space else w for w in words]
    encoded = tokenizer(texts, add_special_tokens=require_bos)["input_ids"]
    lookup = {
        w: _single_token(list(ids), require_bos, bos_id, unk_id)
        for w, ids in zip(words, encoded, strict=False)
    }
    rows = []
    for c in concepts:
        seen: set[tuple[str, str]] = set()
        for base, target in c.pairs:
            (bid, breason), (tid, treason) = lookup[base], lookup[target]
            reasons = [f"base:{breason}" for _ in [0] if breason != KEPT]
            reasons += [f"target:{treason}" for _ in [0] if treason != KEPT]
            if not reasons and bid == tid:
                reasons.append("same_id")
            rows.append(
                (
                    c.name,
                    base,
                    target,
                    bid,
                    tid,
                    not reasons,
                    ";".join(reasons) or KEPT,
                    (base, target) in seen,
                )
            )
            seen.add((base, target))
    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return frame.astype(
        {"base_id": np.int64, "target_id": np.int64, "kept": bool, "duplicate": bool}
    )


def drop_out_of_range(frame: pd.DataFrame, n_rows: int) -> pd.DataFrame:
    """Mark kept pairs whose ids have no row in the matrices (tokenizer larger than the
    embedding) as dropped with reason ``id_out_of_range``."""
    frame = frame.copy()
    bad = frame["kept"] & ((frame["base_id"] >= n_rows) | (frame["target_id"] >= n_rows))
    frame.loc[bad, "kept"] = False
    frame.loc[bad, "reason"] = "id_out_of_range"
    return frame


def require_tokenizable(frame: pd.DataFrame, where: str, key: str) -> None:
    """Refuse word pairs that (almost) do not tokenize: at least two concepts must keep a pair.

    frame: ``filter_pairs`` output. Raises InputDataError with the drop reasons counted.
    """
    kept = frame[frame["kept"]]
    if kept["concept"].nunique() >= 2:
        return
    reasons = frame.loc[~frame["kept"], "reason"].value_counts().head(5)
    top = ", ".join(f"{r} ({n})" for r, n in reasons.items()) or "none"
    raise InputDataError(
        f"The word pairs in {where} do not tokenize for this model: {len(kept)} of {len(frame)} "
        f"pairs survive Park et al.'s filter (each word must be BOS + exactly one token, ids "
        f"differing), in {kept['concept'].nunique()} concept(s); at least 2 concepts are needed. "
        f"Most common reasons: {top}. Use word lists from this model's vocabulary, or set "
        f"`{key}`'s `require_bos: false` / `prefix_space: true` to match its tokenizer."
    )
