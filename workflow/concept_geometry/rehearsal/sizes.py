"""What a rehearsal builds: the papers' checkpoint shapes (``TRUE``) or a scaled-down copy.

Every size is a field, so the test builds a tiny rehearsal through the same code as the
true-shape one. The two ``config.json`` dicts are the hub's own files of
``meta-llama/Llama-2-7b-hf`` and ``google/gemma-2-2b`` (architecture keys only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

# meta-llama/Llama-2-7b-hf config.json (architecture keys).
LLAMA2_7B_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "use_cache": True,
    "vocab_size": 32000,
}

# google/gemma-2-2b config.json (architecture keys; the hub's weights are float32, the
# rehearsal stores bfloat16, as the brief asks: 5.2 GB instead of 10.5 GB).
GEMMA2_2B_CONFIG = {
    "architectures": ["Gemma2ForCausalLM"],
    "model_type": "gemma2",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": 50.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "pad_token_id": 0,
    "final_logit_softcapping": 30.0,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 2304,
    "initializer_range": 0.02,
    "intermediate_size": 9216,
    "max_position_embeddings": 8192,
    "num_attention_heads": 8,
    "num_hidden_layers": 26,
    "num_key_value_heads": 4,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 256000,
}

# The Pile's subsets (meta.pile_set_name) with roughly their document shares.
PILE_CATEGORIES = {
    "Pile-CC": 0.30,
    "PubMed Central": 0.12,
    "Github": 0.10,
    "ArXiv": 0.08,
    "FreeLaw": 0.06,
    "StackExchange": 0.08,
    "USPTO Backgrounds": 0.05,
    "PubMed Abstracts": 0.05,
    "Wikipedia (en)": 0.06,
    "DM Mathematics": 0.04,
    "HackerNews": 0.02,
    "EuroParl": 0.01,
    "PhilPapers": 0.01,
    "NIH ExPorter": 0.01,
    "Enron Emails": 0.005,
    "Ubuntu IRC": 0.005,
}


@dataclass(frozen=True)
class RehearsalSizes:
    """Shapes and counts of one rehearsal build.

    llama, gemma: config.json overrides over the real configs (e.g. ``hidden_size``);
    ``vocab_size: None`` = exactly the words the workflow's word lists need plus
    ``filler_words`` (the tiny build). lobes_width / galaxy_width: SAE features (Gemma Scope
    16k at ``lobes_layer``, 65k canonical at ``galaxy_layers``). target_l0: mean active
    features per token the SAE thresholds are calibrated to (Gemma Scope: average_l0_41).
    n_documents, doc_words: corpus size; each document has doc_words to doc_words + 200
    words, one token each (so >= 1024 tokens at the true shape).
    """

    llama: dict = field(default_factory=dict)
    gemma: dict = field(default_factory=dict)
    filler_words: int = 0
    lobes_layer: int = 12
    lobes_width: int = 16384
    galaxy_layers: tuple[int, ...] = (0, 12, 25)
    galaxy_width: int = 65536
    target_l0: float = 41.0
    n_documents: int = 2000
    doc_words: int = 1100
    calibration_docs: int = 2
    calibration_tokens: int = 256
    gemma_shard_bytes: int = 2 * 2**30
    llama_shards: int = 2

    def llama_config(self) -> dict:
        return {**LLAMA2_7B_CONFIG, **self.llama}

    def gemma_config(self) -> dict:
        return {**GEMMA2_2B_CONFIG, **self.gemma}

    def as_dict(self) -> dict:
        out = asdict(self)
        out["galaxy_layers"] = list(self.galaxy_layers)
        return out


TRUE = RehearsalSizes()

ALL_GALAXY_LAYERS = tuple(range(26))  # the paper's 26 layers: 26 x 1.2 GB = 31 GB of SAEs


def tiny(**overrides) -> RehearsalSizes:
    """A scaled-down rehearsal for tests: same layer numbers as the paper (26 layers, the
    lobes at 12, galaxy at 0/12/25), tiny widths and vocabularies, a dozen documents."""
    small = RehearsalSizes(
        llama={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "vocab_size": None,
        },
        gemma={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "vocab_size": None,
        },
        filler_words=400,
        lobes_width=64,
        galaxy_width=256,
        target_l0=6.0,
        n_documents=40,
        doc_words=1100,
        calibration_docs=2,
        calibration_tokens=64,
        gemma_shard_bytes=2 * 2**20,
    )
    return replace(small, **overrides)
