"""The offline default's LLM: a small untied Llama trained on latent-concept text (spec §1, §3).

Text comes from the latent conditional model of the simulation study (Jiang et al. 2024 §2):
m binary concepts with a random-DAG joint law. The vocabulary has
- one *output word* per concept vector c in {0,1}^m, spelt ``y_<bits>`` (e.g. ``y_0110``);
- two *context words* per concept i, ``k<i>_0`` and ``k<i>_1``, each revealing one value;
- the specials ``<pad> <unk> <s> </s>``.
A sentence is ``<s>`` + a context + the next word. The context reveals a random subset of
core concepts of a concept vector drawn from the joint law, either as context words (core
size uniform in 0..m, random order) or, with probability ``word_context_prob``, as one output
word (which reveals all m concepts). The next word follows the exact conditional
p(y | x) = p(c | c_core(x)) (``simulation.dag.conditionals``); the model is trained by
cross-entropy against that exact law (``targets: exact``) or against a word drawn from it
(``targets: sampled``). Its concept pairs are pairs of output words that differ only in
concept i, written in the same ``base<TAB>target`` format as Park et al.'s lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..seeding import derive_seed
from ..simulation.dag import Dag, concept_vectors, conditionals, joint_distribution, random_dag
from .pairs import Concept

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(4)


def output_word(bits) -> str:
    """The output word of a concept vector, e.g. (0, 1, 1) -> ``y_011``."""
    return "y_" + "".join(str(int(b)) for b in bits)


def context_word(concept: int, value: int) -> str:
    """The context word revealing C_concept = value, e.g. ``k3_1``."""
    return f"k{concept}_{int(value)}"


@dataclass(frozen=True)
class ToyVocabulary:
    """Word <-> id layout: specials, then 2m context words, then 2^m output words."""

    m: int

    @property
    def context_offset(self) -> int:
        return len(SPECIALS)

    @property
    def output_offset(self) -> int:
        return len(SPECIALS) + 2 * self.m

    @property
    def words(self) -> list[str]:
        ctx = [context_word(i, v) for i in range(self.m) for v in (0, 1)]
        return list(SPECIALS) + ctx + [output_word(c) for c in concept_vectors(self.m)]

    def context_id(self, concept, value):
        """Token id of context word (concept, value); vectorised."""
        return self.context_offset + 2 * np.asarray(concept) + np.asarray(value)

    def output_id(self, y):
        """Token id of output word y (index into ``concept_vectors(m)``); vectorised."""
        return self.output_offset + np.asarray(y)


def build_word_tokenizer(words: list[str], bos: str | None = "<s>", eos: str = "</s>",
                         pad: str = "<pad>", unk: str = "<unk>"):
    """A whitespace word-level fast tokenizer over ``words`` (ids = list order) that
    prepends ``bos`` (when not None). Returns a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])])
    kwargs = dict(eos_token=eos, pad_token=pad, unk_token=unk)
    if bos is not None:
        kwargs["bos_token"] = bos
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def toy_concepts(m: int) -> list[Concept]:
    """Concept i: all pairs (y with c_i = 0, y with c_i = 1) equal elsewhere; 2^(m-1) each."""
    cv = concept_vectors(m)
    out = []
    for i in range(m):
        base = cv[cv[:, i] == 0]
        target = base.copy()
        target[:, i] = 1
        out.append(Concept(f"c{i}", tuple((output_word(b), output_word(t))
                                          for b, t in zip(base, target))))
    return out


def sample_batch(joint: np.ndarray, m: int, batch: int, word_context_prob: float,
                 rng: np.random.Generator):
    """Sentences of the latent-concept text.

    Returns input_ids (batch, m + 1) int64 (``<s>`` + context, right-padded), position
    (batch,) index of the last context token (the logits there predict the next word),
    contexts (batch, m) int8 in {-1, 0, 1}, and p_next (batch, 2^m) the exact conditional.
    """
    vocab = ToyVocabulary(m)
    cv = concept_vectors(m)
    y = rng.choice(2 ** m, size=batch, p=joint)
    values = cv[y]
    core = rng.integers(0, m + 1, size=batch)
    order = np.argsort(rng.random((batch, m)), axis=1)  # reveal order of the concepts
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m)[None, :].repeat(batch, 0), axis=1)
    as_word = rng.random(batch) < word_context_prob
    known = (rank < core[:, None]) | as_word[:, None]
    contexts = np.where(known, values, -1).astype(np.int8)

    ids = np.full((batch, m + 1), PAD, dtype=np.int64)
    ids[:, 0] = BOS
    slot = np.arange(m)[None, :] < core[:, None]
    ordered_values = np.take_along_axis(values, order, axis=1)
    tokens = vocab.context_id(order, ordered_values)
    ids[:, 1:] = np.where(slot, tokens, PAD)
    ids[as_word, 1] = vocab.output_id(y[as_word])
    ids[as_word, 2:] = PAD
    position = np.where(as_word, 1, core)
    return ids, position, contexts, conditionals(joint, contexts, m)


@dataclass
class ToyLM:
    """A trained toy model: the HF model and tokenizer, the DAG, and the training curve."""

    model: object
    tokenizer: object
    dag: Dag
    history: object  # pandas DataFrame: step, loss, kl_to_exact
    kl_to_exact: float
    final_loss: float


def _loss(model, ids, position, p_next, out_slice, targets, rng_torch):
    import torch

    logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[torch.arange(ids.shape[0]), position], dim=-1)[:, out_slice]
    if targets == "exact":
        ce = -(p_next * logp).sum(dim=1)
    else:
        drawn = torch.multinomial(p_next, 1, generator=rng_torch)[:, 0]
        ce = -logp.gather(1, drawn[:, None])[:, 0]
    kl = -(p_next * logp).sum(dim=1) + (p_next * torch.log(p_next.clamp_min(1e-30))).sum(dim=1)
    return ce.mean(), kl.mean()


def train_toy_lm(cfg: dict, seed: int, progress: bool = True) -> ToyLM:
    """Train the toy Llama described in the module docstring.

    cfg: the ``alignment.toy`` config section (m, edge_prob, d_model, layers, heads,
    intermediate, steps, batch_size, lr, init_std, word_context_prob, targets, log_every,
    eval_batch). Randomness from ``seed`` only (DAG, init, data: separate derived seeds).
    """
    import pandas as pd
    import torch
    from tqdm import tqdm
    from transformers import LlamaConfig, LlamaForCausalLM

    m = int(cfg["m"])
    dag = random_dag(m, float(cfg["edge_prob"]), np.random.default_rng(derive_seed(seed, "alignment", "toy", "dag")))
    joint = joint_distribution(dag)
    vocab = ToyVocabulary(m)
    tokenizer = build_word_tokenizer(vocab.words)
    torch.manual_seed(derive_seed(seed, "alignment", "toy", "init"))
    config = LlamaConfig(
        vocab_size=len(vocab.words), hidden_size=int(cfg["d_model"]),
        intermediate_size=int(cfg["intermediate"]), num_hidden_layers=int(cfg["layers"]),
        num_attention_heads=int(cfg["heads"]), num_key_value_heads=int(cfg["heads"]),
        max_position_embeddings=m + 2, initializer_range=float(cfg["init_std"]),
        tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
    )
    model = LlamaForCausalLM(config)
    model.train()
    steps = int(cfg["steps"])
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.0)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))
    data_rng = np.random.default_rng(derive_seed(seed, "alignment", "toy", "data"))
    torch_rng = torch.Generator().manual_seed(derive_seed(seed, "alignment", "toy", "draws"))
    out_slice = slice(vocab.output_offset, vocab.output_offset + 2 ** m)
    history = []
    bar = tqdm(range(steps), desc="train toy Llama", disable=not progress, mininterval=2.0)
    for step in bar:
        ids, pos, _, p_next = sample_batch(joint, m, int(cfg["batch_size"]),
                                           float(cfg["word_context_prob"]), data_rng)
        loss, kl = _loss(model, torch.from_numpy(ids), torch.from_numpy(pos),
                         torch.from_numpy(p_next).float(), out_slice, cfg["targets"], torch_rng)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % int(cfg["log_every"]) == 0 or step == steps - 1:
            history.append((step, loss.item(), kl.item()))
            bar.set_postfix(loss=f"{history[-1][1]:.3f}", kl=f"{history[-1][2]:.3f}")
    model.eval()
    with torch.no_grad():
        ids, pos, _, p_next = sample_batch(joint, m, int(cfg["eval_batch"]),
                                           float(cfg["word_context_prob"]), data_rng)
        _, kl = _loss(model, torch.from_numpy(ids), torch.from_numpy(pos),
                      torch.from_numpy(p_next).float(), out_slice, "exact", torch_rng)
    frame = pd.DataFrame(history, columns=["step", "loss", "kl_to_exact"])
    return ToyLM(model, tokenizer, dag, frame, kl.item(), history[-1][1])


def save_toy_lm(toy: ToyLM, folder: str | Path) -> None:
    """save_pretrained model + tokenizer, plus ``dag.json`` (the latent law it was trained on)."""
    folder = Path(folder)
    toy.model.save_pretrained(folder)
    toy.tokenizer.save_pretrained(folder)
    dag = {"m": toy.dag.m, "parents": [list(p) for p in toy.dag.parents],
           "cpts": [np.asarray(c).tolist() for c in toy.dag.cpts],
           "kl_to_exact": toy.kl_to_exact}
    (folder / "dag.json").write_text(json.dumps(dag, indent=1))
