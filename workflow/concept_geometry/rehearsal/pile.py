"""The rehearsal's Pile-like corpus (jsonl with ``meta.pile_set_name``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .paths import CORPUS_FILE, CORPUS_NAME, PRODUCER
from .sizes import PILE_CATEGORIES, RehearsalSizes
from .store import _identity, _skip


def category_schedule(n: int, seed: int) -> list[str]:
    """``n`` Pile categories in seeded order, with the Pile's shares (largest remainder) and,
    when n allows, at least one document of every category."""
    names = list(PILE_CATEGORIES)
    share = np.array([PILE_CATEGORIES[c] for c in names])
    share = share / share.sum()
    counts = np.floor(share * n).astype(int)
    if n >= len(names):
        counts = np.maximum(counts, 1)
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    rest = np.argsort(-(share * n - np.floor(share * n)), kind="stable")
    for i in rest[: n - counts.sum()]:
        counts[i] += 1
    cats = [c for c, k in zip(names, counts, strict=False) for _ in range(k)]
    return [cats[i] for i in np.random.default_rng(seed).permutation(len(cats))]


def build_corpus(
    build_dir: Path, sizes: RehearsalSizes, seed: int, words: list[str], force: bool = False
) -> dict:
    """Pile-like jsonl: each category draws words Zipf-wise from its own ordering of the
    vocabulary (so categories differ in what they say), doc_words to doc_words + 200 each."""
    path = build_dir / CORPUS_FILE
    part = {
        "n_documents": sizes.n_documents,
        "doc_words": sizes.doc_words,
        "vocab": len(words),
        "categories": PILE_CATEGORIES,
    }
    ident = _identity(part, seed, corpus=CORPUS_NAME)
    if not _skip(path, ident, force):
        rng = np.random.default_rng(seed + 3)
        pool = np.array(words, dtype=object)
        top = min(len(pool), 50000)
        zipf = 1.0 / np.arange(1, top + 1) ** 1.1
        cdf = np.cumsum(zipf / zipf.sum())
        orders = {c: rng.permutation(len(pool))[:top] for c in PILE_CATEGORIES}
        cats = category_schedule(sizes.n_documents, seed + 4)
        with atomic_path(path, PRODUCER, ident) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for cat in cats:
                n = sizes.doc_words + int(rng.integers(0, 201))
                idx = orders[cat][np.minimum(np.searchsorted(cdf, rng.random(n)), top - 1)]
                tokens = pool[idx]
                lines = [" ".join(tokens[i : i + 16]) for i in range(0, n, 16)]
                fh.write(
                    json.dumps({"text": "\n".join(lines), "meta": {"pile_set_name": cat}}) + "\n"
                )
    return {"path": str(path), "n_documents": sizes.n_documents, "identity": ident}
