"""The toy language's words and tokenizer: output, context and filler words, the vocabulary,
which outputs a run keeps, the word-level tokenizer and the concepts (word pairs) it checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..simulation.dag import concept_vectors
from .pairs import Concept

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(4)


def output_word(bits) -> str:
    """The concept word of a concept vector, e.g. (0, 1, 1) -> ``y_011``."""
    return "y_" + "".join(str(int(b)) for b in bits)


def context_word(concept: int, value: int) -> str:
    """The context word revealing C_concept = value, e.g. ``k3_1``."""
    return f"k{concept}_{int(value)}"


def filler_word(j: int) -> str:
    return f"f{j}"


@dataclass(frozen=True)
class ToyVocabulary:
    """Word <-> id layout: specials, 2m context words, the concept words, the filler words.

    outputs: indices y into ``concept_vectors(m)`` of the concept words, ascending.
    """

    m: int
    outputs: tuple[int, ...]
    fillers: int

    @property
    def context_offset(self) -> int:
        return len(SPECIALS)

    @property
    def output_offset(self) -> int:
        return len(SPECIALS) + 2 * self.m

    @property
    def filler_offset(self) -> int:
        return self.output_offset + len(self.outputs)

    @property
    def size(self) -> int:
        return self.filler_offset + self.fillers

    @property
    def words(self) -> list[str]:
        cv = concept_vectors(self.m)
        ctx = [context_word(i, v) for i in range(self.m) for v in (0, 1)]
        return (
            list(SPECIALS)
            + ctx
            + [output_word(cv[y]) for y in self.outputs]
            + [filler_word(j) for j in range(self.fillers)]
        )

    def context_id(self, concept, value):
        """Token id of context word (concept, value); vectorised."""
        return self.context_offset + 2 * np.asarray(concept) + np.asarray(value)

    def output_id(self, y):
        """Token id of the concept word of concept vector y (index into ``concept_vectors(m)``,
        must be in ``outputs``); vectorised."""
        lookup = np.full(2**self.m, -1, dtype=np.int64)
        lookup[list(self.outputs)] = self.output_offset + np.arange(len(self.outputs))
        return lookup[np.asarray(y)]


def choose_outputs(m: int, frac: float, rng: np.random.Generator) -> tuple[int, ...]:
    """A random subset of round(frac * 2^m) concept vectors (at least 2) in which every concept
    has at least one pair differing only in it; redrawn (at most 1000 times) until so."""
    n = max(2, int(round(frac * 2**m)))
    cv = concept_vectors(m)
    for _ in range(1000):
        chosen = np.sort(rng.choice(2**m, size=n, replace=False))
        if all(len(_pairs_of(cv, chosen, i)) for i in range(m)):
            return tuple(int(y) for y in chosen)
    raise ConfigError(
        f"Invalid config: key `alignment.toy.output_frac` = {frac} gives {n} of the 2^{m} concept "
        f"words, and 1000 random subsets of that size all left some concept without a pair of "
        f"words differing only in it. Raise `alignment.toy.output_frac` (0.5 works for m >= 3)."
    )


def _pairs_of(cv: np.ndarray, chosen: np.ndarray, i: int) -> list[tuple[int, int]]:
    """(y0, y1) in chosen x chosen with cv[y0], cv[y1] equal except c_i = 0 -> 1."""
    have = set(int(y) for y in chosen)
    bit = 1 << (cv.shape[1] - 1 - i)  # column 0 is the most significant bit
    return [(int(y), int(y) | bit) for y in chosen if not int(y) & bit and (int(y) | bit) in have]


def build_word_tokenizer(
    words: list[str],
    bos: str | None = "<s>",
    eos: str = "</s>",
    pad: str = "<pad>",
    unk: str = "<unk>",
):
    """A whitespace word-level fast tokenizer over ``words`` (ids = list order) that
    prepends ``bos`` (when not None). Returns a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
        )
    kwargs = dict(eos_token=eos, pad_token=pad, unk_token=unk)
    if bos is not None:
        kwargs["bos_token"] = bos
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def toy_concepts(vocab: ToyVocabulary) -> list[Concept]:
    """Concept i: every pair of concept words (c_i = 0, c_i = 1) equal elsewhere."""
    cv = concept_vectors(vocab.m)
    chosen = np.asarray(vocab.outputs)
    return [
        Concept(
            f"c{i}",
            tuple((output_word(cv[a]), output_word(cv[b])) for a, b in _pairs_of(cv, chosen, i)),
        )
        for i in range(vocab.m)
    ]
