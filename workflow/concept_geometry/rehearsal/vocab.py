"""Rehearsal vocabularies and word-level tokenizers (the workflow's words plus filler)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .paths import REPO


def workflow_words(
    concepts_dir: Path = REPO / "config/concepts", relations_dir: Path = REPO / "config/relations"
) -> list[str]:
    """Every whitespace-separated word of the workflow's word-pair lists (alignment concepts,
    crystals relations), sorted: each becomes one token, as most are in the real tokenizers."""
    words: set[str] = set()
    for path in sorted(Path(concepts_dir).glob("*.txt")):
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            words.update(line.split())
    for path in sorted(Path(relations_dir).glob("*.json")):
        for pair in json.loads(path.read_text(encoding="utf-8-sig")):
            words.update(str(pair["input"]).split())
            words.update(str(pair["output"]).split())
    return sorted(words)


_ONSETS = list("bcdfghjklmnprstvwz") + ["ch", "sh", "th", "st", "tr", "pl", "gr", "br"]


_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]


def filler_words(n: int, exclude: Iterable[str], seed: int) -> list[str]:
    """``n`` distinct pseudo-words (2-4 syllables), seeded, none in ``exclude``."""
    syllables = [o + v for o in _ONSETS for v in _VOWELS]  # 208
    rng = np.random.default_rng(seed)
    taken = set(exclude)
    out: list[str] = []
    n_syl = 2
    while len(out) < n:
        count = len(syllables) ** n_syl
        want = min(count, 2 * (n - len(out)) + 1000)
        codes = rng.choice(count, size=want, replace=False)
        for code in codes:
            parts = []
            for _ in range(n_syl):
                code, r = divmod(int(code), len(syllables))
                parts.append(syllables[r])
            word = "".join(parts)
            if word not in taken:
                taken.add(word)
                out.append(word)
                if len(out) == n:
                    break
        n_syl += 1
    return out


def make_tokenizer(
    specials: list[str], words: list[str], bos: str, eos: str, pad: str | None, unk: str
):
    """A whitespace word-level fast tokenizer: ids = specials, then ``words``; adds BOS."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(specials)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
    )
    kwargs = {"pad_token": pad} if pad else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token=unk, **kwargs
    )


LLAMA_SPECIALS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2 as Llama-2


GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # ids 0, 1, 2, 3 as Gemma


def vocabulary(
    vocab_size: int | None, specials: list[str], must: list[str], n_filler: int, seed: int
) -> list[str]:
    """The non-special words of a vocabulary of ``vocab_size`` tokens (None: must + n_filler)."""
    n_words = (len(must) + n_filler) if vocab_size is None else vocab_size - len(specials)
    if n_words < len(must):
        raise ValueError(f"vocab_size {vocab_size} cannot hold the {len(must)} workflow words")
    return must + filler_words(n_words - len(must), set(must) | set(specials), seed)
