"""The offline default's LLM: a small untied Llama trained on latent-concept text (spec §1, §3).

Text comes from the latent conditional model of the simulation study (Jiang et al. 2024 §2):
m binary concepts with a random-DAG joint law. The vocabulary has
- the specials ``<pad> <unk> <s> </s>``;
- two *context words* per concept i, ``k<i>_0`` and ``k<i>_1``, each revealing one value;
- *concept words* ``y_<bits>`` (e.g. ``y_0110``) for a seeded subset of the concept vectors
  (``output_frac`` of {0,1}^m, not the full factorial), the only vectors the text uses;
- ``fillers`` *filler words* ``f<j>``, which carry no concept.
A concept sentence is ``<s>`` + a context + the next word. Its concept vector is drawn from
the joint law restricted to the concept words; the context reveals a random subset of its
core concepts, either as context words (core size uniform in 0..m, random order) or, with
probability ``word_context_prob``, as one concept word (which reveals all m concepts). The
next word follows the exact conditional p(y | x) = p(c | c_core(x)) (``simulation.dag``).
With probability ``filler_prob`` a sentence is a filler sentence instead: ``<s> f<a>`` and
a next filler word from a fixed random low-rank bigram law. The model is trained by
cross-entropy against the exact next-word law (``targets: exact``) or against a word drawn
from it (``targets: sampled``). Its concept pairs are pairs of concept words that differ
only in concept i, written in the same ``base<TAB>target`` format as Park et al.'s lists.

Why fillers and a partial factorial: with the full factorial {0,1}^m as the whole output
vocabulary, Cov(γ) is (up to the few other rows) the covariance of the factorial design
itself, and whitening by it makes the m factor directions orthogonal for *any* unembedding
linear in the concepts, so the causal-orthogonality check could not fail. Here most rows of
the unembedding are filler words, so Cov(γ) is estimated from rows that are not the concepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..seeding import derive_seed
from ..simulation.dag import Dag, concept_vectors, conditionals, joint_distribution, random_dag
from .toy_vocab import (  # noqa: F401
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    ToyVocabulary,
    build_word_tokenizer,
    choose_outputs,
    context_word,
    filler_word,
    output_word,
    toy_concepts,
)

FILLER_RANK = 16  # rank of the filler bigram logits: learnable by a 64-d model, not trivial
FILLER_SCALE = 3.0  # their scale: a peaked but not deterministic next filler word


@dataclass(frozen=True)
class ToyText:
    """The law of the toy text.

    joint: (2^m,) the DAG's joint restricted to the concept words (zero elsewhere), sums to 1.
    filler_next: (fillers, fillers) row-stochastic next-filler law.
    """

    vocab: ToyVocabulary
    joint: np.ndarray
    filler_next: np.ndarray
    word_context_prob: float
    filler_prob: float


def make_toy_text(dag: Dag, cfg: dict, rng: np.random.Generator) -> ToyText:
    """Draw the concept words and the filler bigram law (from ``rng``) for ``dag``.

    cfg: the ``alignment.toy`` section (output_frac, fillers, word_context_prob, filler_prob).
    """
    m = dag.m
    outputs = choose_outputs(m, float(cfg["output_frac"]), rng)
    vocab = ToyVocabulary(m, outputs, int(cfg["fillers"]))
    joint = np.zeros(2**m)
    joint[list(outputs)] = joint_distribution(dag)[list(outputs)]
    joint /= joint.sum()
    f = vocab.fillers
    logits = FILLER_SCALE * (
        rng.standard_normal((f, FILLER_RANK))
        @ rng.standard_normal((FILLER_RANK, f))
        / np.sqrt(FILLER_RANK)
    )
    expl = np.exp(logits - logits.max(axis=1, keepdims=True))
    return ToyText(
        vocab,
        joint,
        expl / expl.sum(axis=1, keepdims=True),
        float(cfg["word_context_prob"]),
        float(cfg["filler_prob"]),
    )


def sample_batch(text: ToyText, batch: int, rng: np.random.Generator):
    """Sentences of the toy text.

    Returns input_ids (batch, m + 1) int64 (``<s>`` + context, right-padded), position
    (batch,) index of the last context token (the logits there predict the next word),
    contexts (batch, m) int8 in {-1, 0, 1} (all -1 for filler sentences), and p_next
    (batch, vocab size) the exact next-word law.
    """
    vocab, m = text.vocab, text.vocab.m
    cv = concept_vectors(m)
    y = rng.choice(2**m, size=batch, p=text.joint)
    values = cv[y]
    core = rng.integers(0, m + 1, size=batch)
    order = np.argsort(rng.random((batch, m)), axis=1)  # reveal order of the concepts
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m)[None, :].repeat(batch, 0), axis=1)
    as_word = rng.random(batch) < text.word_context_prob
    filler = rng.random(batch) < text.filler_prob
    first_filler = rng.integers(0, max(vocab.fillers, 1), size=batch)
    known = ((rank < core[:, None]) | as_word[:, None]) & ~filler[:, None]
    contexts = np.where(known, values, -1).astype(np.int8)

    ids = np.full((batch, m + 1), PAD, dtype=np.int64)
    ids[:, 0] = BOS
    slot = np.arange(m)[None, :] < core[:, None]
    ordered_values = np.take_along_axis(values, order, axis=1)
    tokens = vocab.context_id(order, ordered_values)
    ids[:, 1:] = np.where(slot, tokens, PAD)
    one_word = as_word | filler
    ids[as_word, 1] = vocab.output_id(y[as_word])
    ids[filler, 1] = vocab.filler_offset + first_filler[filler]
    ids[one_word, 2:] = PAD
    position = np.where(one_word, 1, core)

    p_next = np.zeros((batch, vocab.size))
    outputs = list(vocab.outputs)
    p_next[:, vocab.output_offset : vocab.filler_offset] = conditionals(text.joint, contexts, m)[
        :, outputs
    ]
    if filler.any():
        p_next[filler] = 0.0
        p_next[filler, vocab.filler_offset :] = text.filler_next[first_filler[filler]]
    return ids, position, contexts, p_next


@dataclass
class ToyLM:
    """A trained toy model: the HF model and tokenizer, the DAG, the text law and the
    training curve."""

    model: object
    tokenizer: object
    dag: Dag
    text: ToyText
    history: object  # pandas DataFrame: step, loss, kl_to_exact
    kl_to_exact: float
    final_loss: float


def _loss(model, ids, position, p_next, targets, rng_torch):
    import torch

    logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[torch.arange(ids.shape[0]), position], dim=-1)
    if targets == "exact":
        ce = -(p_next * logp).sum(dim=1)
    else:
        drawn = torch.multinomial(p_next, 1, generator=rng_torch)[:, 0]
        ce = -logp.gather(1, drawn[:, None])[:, 0]
    kl = -(p_next * logp).sum(dim=1) + (p_next * torch.log(p_next.clamp_min(1e-30))).sum(dim=1)
    return ce.mean(), kl.mean()


def lr_factor(step: int, steps: int) -> float:
    """The learning-rate multiplier at ``step`` of ``steps``: linear warm-up over the first
    max(1, steps // 20) steps ((step + 1) / warmup), times a cosine decay
    0.5 (1 + cos(pi min(step, steps) / steps)) from 1 to 0."""
    warmup = max(1, steps // 20)
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(step, steps) / steps))


def train_toy_lm(cfg: dict, seed: int, progress: bool = True) -> ToyLM:
    """Train the toy Llama described in the module docstring.

    cfg: the ``alignment.toy`` config section (m, edge_prob, output_frac, fillers,
    filler_prob, word_context_prob, d_model, layers, heads, intermediate, steps, batch_size,
    lr, init_std, targets, log_every, eval_batch). Randomness from ``seed`` only (DAG,
    vocabulary and filler law, init, data: separate derived seeds).
    """
    import pandas as pd
    import torch
    from tqdm import tqdm
    from transformers import LlamaConfig, LlamaForCausalLM

    m = int(cfg["m"])
    dag = random_dag(
        m,
        float(cfg["edge_prob"]),
        np.random.default_rng(derive_seed(seed, "alignment", "toy", "dag")),
    )
    text = make_toy_text(
        dag, cfg, np.random.default_rng(derive_seed(seed, "alignment", "toy", "vocab"))
    )
    vocab = text.vocab
    tokenizer = build_word_tokenizer(vocab.words)
    torch.manual_seed(derive_seed(seed, "alignment", "toy", "init"))
    config = LlamaConfig(
        vocab_size=vocab.size,
        hidden_size=int(cfg["d_model"]),
        intermediate_size=int(cfg["intermediate"]),
        num_hidden_layers=int(cfg["layers"]),
        num_attention_heads=int(cfg["heads"]),
        num_key_value_heads=int(cfg["heads"]),
        max_position_embeddings=m + 2,
        initializer_range=float(cfg["init_std"]),
        tie_word_embeddings=False,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )
    model = LlamaForCausalLM(config)
    model.train()
    steps = int(cfg["steps"])
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps))
    data_rng = np.random.default_rng(derive_seed(seed, "alignment", "toy", "data"))
    torch_rng = torch.Generator().manual_seed(derive_seed(seed, "alignment", "toy", "draws"))
    history = []
    bar = tqdm(range(steps), desc="train toy Llama", disable=not progress, mininterval=2.0)
    for step in bar:
        ids, pos, _, p_next = sample_batch(text, int(cfg["batch_size"]), data_rng)
        loss, kl = _loss(
            model,
            torch.from_numpy(ids),
            torch.from_numpy(pos),
            torch.from_numpy(p_next).float(),
            cfg["targets"],
            torch_rng,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % int(cfg["log_every"]) == 0 or step == steps - 1:
            history.append((step, loss.item(), kl.item()))
            bar.set_postfix(loss=f"{history[-1][1]:.3f}", kl=f"{history[-1][2]:.3f}")
    model.eval()
    with torch.no_grad():
        ids, pos, _, p_next = sample_batch(text, int(cfg["eval_batch"]), data_rng)
        _, kl = _loss(
            model,
            torch.from_numpy(ids),
            torch.from_numpy(pos),
            torch.from_numpy(p_next).float(),
            "exact",
            torch_rng,
        )
    frame = pd.DataFrame(history, columns=["step", "loss", "kl_to_exact"])
    return ToyLM(model, tokenizer, dag, text, frame, kl.item(), history[-1][1])


def save_toy_lm(toy: ToyLM, folder: str | Path) -> None:
    """save_pretrained model + tokenizer, plus ``dag.json`` (the latent law it was trained on)."""
    folder = Path(folder)
    toy.model.save_pretrained(folder)
    toy.tokenizer.save_pretrained(folder)
    dag = {
        "m": toy.dag.m,
        "parents": [list(p) for p in toy.dag.parents],
        "cpts": [np.asarray(c).tolist() for c in toy.dag.cpts],
        "concept_words": list(toy.text.vocab.outputs),
        "fillers": toy.text.vocab.fillers,
        "kl_to_exact": toy.kl_to_exact,
    }
    (folder / "dag.json").write_text(json.dumps(dag, indent=1))
