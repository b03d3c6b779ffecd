"""Tiny offline models and tokenizers for tests (nothing is downloaded).

Each builder saves with ``save_pretrained`` into a folder, so the code under test loads it
exactly as it would load a real checkpoint from a local path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch


def make_word_tokenizer(
    words: Iterable[str],
    path: str | Path | None = None,
    bos: str = "<s>",
    eos: str = "</s>",
    pad: str = "<pad>",
    unk: str = "<unk>",
    add_bos: bool = True,
):
    """A whitespace word-level fast tokenizer over ``words`` (ids: pad, unk, bos, eos, words...).

    Encoding adds BOS in front when ``add_bos``. Saved to ``path`` when given.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = [pad, unk, bos, eos]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for w in words:
        if w not in vocab:
            vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, unk_token=unk
    )
    if path is not None:
        fast.save_pretrained(str(path))
    return fast


def make_tiny_llama(
    path: str | Path,
    tokenizer,
    hidden: int = 32,
    layers: int = 2,
    tied: bool = False,
    seed: int = 0,
):
    """A randomly initialised LlamaForCausalLM (untied unless ``tied``), saved with its
    tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model


def make_tiny_gemma2(path: str | Path, tokenizer, hidden: int = 32, layers: int = 3, seed: int = 0):
    """A randomly initialised Gemma2ForCausalLM (tied embeddings, as Gemma-2), saved with its
    tokenizer."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(seed)
    cfg = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        sliding_window=64,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Gemma2ForCausalLM(cfg).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model


def make_tiny_bert(path: str | Path, tokenizer, hidden: int = 32, layers: int = 3, seed: int = 0):
    """A randomly initialised BertModel (absolute learned position embeddings, as MiniLM,
    the default features model), saved with its tokenizer."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertModel(cfg).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model
