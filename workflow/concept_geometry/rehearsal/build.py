"""Write a rehearsal: checkpoints of the papers' shapes and formats with random weights.

Offline and seeded; needs only torch, transformers (safetensors), tokenizers and numpy.
Layout of a build folder ``DIR`` (``layout``):

    llama-2-7b/      config.json (Llama-2-7b's), tokenizer, model-0000x-of-00002.safetensors,
                     model.safetensors.index.json: embed_tokens and lm_head only (fast path)
    gemma-2-2b/      config.json (gemma-2-2b's), tokenizer, sharded bfloat16 safetensors
    gemma-scope-2b-pt-res/layer_<L>/width_16k/average_l0_41/params.npz
    gemma-scope-2b-pt-res-canonical/layer_<L>/width_65k/canonical/params.npz
    pile/pile-rehearsal.jsonl   text + meta.pile_set_name
    rehearsal.json   what was built (sizes, seed, calibration, identities)

Each folder is written to a temp name and renamed, with ``MANIFEST.sha256.json`` (every file's
checksum, producer ``rehearsal_build`` and an identity: model, layer, sae, corpus, config
hash), the corpus file with a ``.sha256`` sidecar: the same identity fields every workflow
artifact records (``concept_geometry.io``).

Why only two Llama tensors: the alignment stage reads a safetensors checkpoint through
``alignment.matrices.read_safetensors_matrices``, which opens only the shards that the index
names for ``embed_tokens.weight`` and ``lm_head.weight``; nothing else of Llama-2 is ever
read. The other 6.5 B parameters are therefore omitted (a full ``from_pretrained`` of this
folder is not supported and would initialise them randomly).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..fingerprint import settings_hash
from ..io import atomic_dir, atomic_path, verify, write_json
from .sizes import PILE_CATEGORIES, RehearsalSizes

log = logging.getLogger(__name__)

PRODUCER = "rehearsal_build"
REPO = Path(__file__).resolve().parents[3]
LLAMA_DIR = "llama-2-7b"
GEMMA_DIR = "gemma-2-2b"
LOBES_SAE = "gemma-scope-2b-pt-res/layer_{layer}/width_16k/average_l0_41"
GALAXY_SAE = "gemma-scope-2b-pt-res-canonical/layer_{layer}/width_65k/canonical"
CORPUS_FILE = "pile/pile-rehearsal.jsonl"
CORPUS_NAME = "pile-rehearsal"
SUMMARY = "rehearsal.json"
MANIFEST = "MANIFEST.sha256.json"


def layout(build_dir: str | Path) -> dict[str, str]:
    """Paths of a build's parts (``{layer}`` left in the SAE paths, as the config takes them)."""
    base = Path(build_dir)
    return {
        "llama": str(base / LLAMA_DIR),
        "gemma": str(base / GEMMA_DIR),
        "lobes_sae": str(base / LOBES_SAE),
        "galaxy_sae": str(base / GALAXY_SAE),
        "corpus": str(base / CORPUS_FILE),
        "summary": str(base / SUMMARY),
    }


def config_paths(build_dir: str | Path) -> dict:
    """The config keys a rehearsal points at ``build_dir`` (the path part of
    config/rehearsal.yaml, which a test checks against this)."""
    p = layout(build_dir)
    return {
        "features": {
            "model": {"path": p["gemma"]},
            "corpus": {"name": CORPUS_NAME, "source": "local", "path": p["corpus"]},
            "sae": {"source": "local", "path": p["lobes_sae"]},
        },
        "galaxy": {"sae": {"source": "local", "path": p["galaxy_sae"]}},
        "crystals": {"model": {"path": p["gemma"]}},
        "alignment": {
            "models": [
                {
                    "name": "llama-2-7b",
                    "path": p["llama"],
                    "concepts": "config/concepts",
                    "require_bos": True,
                    "prefix_space": False,
                }
            ]
        },
    }


# --- vocabulary and tokenizers --------------------------------------------------------------


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


# --- tensors --------------------------------------------------------------------------------


def _normal(shape: tuple[int, ...], std: float, dtype, gen, block_rows: int = 8192):
    """Seeded N(0, std²) tensor made block by block (no float32 copy of the whole tensor)."""
    import torch

    out = torch.empty(shape, dtype=dtype)
    if len(shape) == 1:
        out.copy_(torch.randn(shape, generator=gen).mul_(std))
        return out
    for r0 in range(0, shape[0], block_rows):
        r1 = min(shape[0], r0 + block_rows)
        out[r0:r1] = torch.randn((r1 - r0, *shape[1:]), generator=gen).mul_(std)
    return out


def _plan_shards(
    entries: list[tuple[str, tuple, int]], n_shards: int | None, max_bytes: int | None
) -> list[list[tuple[str, tuple, int]]]:
    """Split (name, shape, bytes) entries, in order, into shards (a fixed number, or by size)."""
    if n_shards is not None:
        per = math.ceil(len(entries) / n_shards)
        return [entries[i : i + per] for i in range(0, len(entries), per)]
    shards, cur, size = [], [], 0
    for entry in entries:
        if cur and size + entry[2] > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(entry)
        size += entry[2]
    return shards + [cur] if cur else shards


def write_sharded(
    folder: Path,
    entries: list[tuple[str, tuple, int]],
    make_tensor,
    n_shards: int | None = None,
    max_bytes: int | None = None,
) -> int:
    """Hub-layout sharded safetensors: ``model-0000i-of-0000n.safetensors`` and the index.
    Tensors are made shard by shard (memory: one shard). Returns the total bytes."""
    from safetensors.torch import save_file

    shards = _plan_shards(entries, n_shards, max_bytes)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        tensors = {n: make_tensor(n, shape) for n, shape, _ in shard}
        save_file(tensors, str(folder / name), metadata={"format": "pt"})
        (folder / name).chmod(0o644)  # safetensors creates 0600; results are world-readable
        for n, _shape, nbytes in shard:
            weight_map[n] = name
            total += nbytes
        del tensors
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return total


def _identity(sizes_part: dict, seed: int, **fields) -> dict:
    return {
        **fields,
        "weights": "random (rehearsal)",
        "config": settings_hash({**sizes_part, "seed": seed}),
    }


def built_identity(path: Path) -> dict | None:
    """The identity recorded in a built folder's manifest (or a file's sidecar); None if
    absent. Checks the checksums first (a truncated build is not reused)."""
    path = Path(path)
    try:
        verify(path)
    except Exception:  # noqa: BLE001 -- missing or damaged: rebuild
        return None
    meta = path / MANIFEST if path.is_dir() else path.with_name(path.name + ".sha256")
    return json.loads(meta.read_text()).get("identity")


def _skip(path: Path, identity: dict, force: bool) -> bool:
    if force or not path.exists():
        return False
    got = built_identity(path)
    same = got == {k: str(v) for k, v in identity.items()}
    if same:
        log.info("kept %s (built before with the same sizes and seed)", path)
    return same


# --- the parts ------------------------------------------------------------------------------


def build_llama(
    build_dir: Path, sizes: RehearsalSizes, seed: int, words: list[str], force: bool = False
) -> dict:
    """Llama-2-7b-shaped, untied, float16, embed_tokens and lm_head only (see module doc)."""
    import torch

    cfg = sizes.llama_config()
    vocab = vocabulary(cfg["vocab_size"], LLAMA_SPECIALS, words, sizes.filler_words, seed + 1)
    cfg["vocab_size"] = len(LLAMA_SPECIALS) + len(vocab)
    d = cfg["hidden_size"]
    path = build_dir / LLAMA_DIR
    ident = _identity({"config": cfg}, seed, model="llama-2-7b")
    if not _skip(path, ident, force):
        gen = torch.Generator().manual_seed(seed + 11)
        nbytes = cfg["vocab_size"] * d * 2
        entries = [
            ("model.embed_tokens.weight", (cfg["vocab_size"], d), nbytes),
            ("lm_head.weight", (cfg["vocab_size"], d), nbytes),
        ]
        with atomic_dir(path, PRODUCER, ident) as tmp:
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
            write_sharded(
                tmp,
                entries,
                lambda n, s: _normal(s, cfg["initializer_range"], torch.float16, gen),
                n_shards=sizes.llama_shards,
            )
            make_tokenizer(LLAMA_SPECIALS, vocab, "<s>", "</s>", None, "<unk>").save_pretrained(tmp)
            (tmp / "REHEARSAL.md").write_text(
                "Random weights of Llama-2-7b's shape. Only model.embed_tokens.weight and "
                "lm_head.weight are stored: the alignment stage's safetensors fast path reads "
                "nothing else. Not loadable as a full model.\n"
            )
    return {
        "path": str(path),
        "vocab_size": cfg["vocab_size"],
        "d_model": d,
        "tensors": ["model.embed_tokens.weight", "lm_head.weight"],
        "identity": ident,
    }


def gemma_entries(cfg: dict) -> list[tuple[str, tuple, int]]:
    """(name, shape, bf16 bytes) of every stored Gemma2ForCausalLM tensor, in module order
    (lm_head omitted: tied, as in the hub checkpoint)."""
    import torch
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        **{k: v for k, v in cfg.items() if k not in ("architectures", "model_type")}
    )
    with torch.device("meta"):
        model = Gemma2ForCausalLM(config)
    out = []
    for name, param in model.named_parameters():
        if name == "lm_head.weight" and cfg["tie_word_embeddings"]:
            continue
        out.append((name, tuple(param.shape), param.numel() * 2))
    return out


def build_gemma(
    build_dir: Path, sizes: RehearsalSizes, seed: int, words: list[str], force: bool = False
) -> dict:
    """gemma-2-2b-shaped Gemma2ForCausalLM, random weights, bfloat16, with its tokenizer."""
    import torch

    cfg = sizes.gemma_config()
    vocab = vocabulary(cfg["vocab_size"], GEMMA_SPECIALS, words, sizes.filler_words, seed + 2)
    cfg["vocab_size"] = len(GEMMA_SPECIALS) + len(vocab)
    path = build_dir / GEMMA_DIR
    ident = _identity({"config": cfg}, seed, model="gemma-2-2b")
    entries = gemma_entries(cfg)
    if not _skip(path, ident, force):
        gen = torch.Generator().manual_seed(seed + 12)
        std = cfg["initializer_range"]

        def make(name, shape):
            if "norm" in name:  # Gemma's RMSNorm scales by (1 + w): w = 0 at initialisation
                return torch.zeros(shape, dtype=torch.bfloat16)
            return _normal(shape, std, torch.bfloat16, gen)

        with atomic_dir(path, PRODUCER, ident) as tmp:
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
            write_sharded(tmp, entries, make, max_bytes=sizes.gemma_shard_bytes)
            make_tokenizer(
                GEMMA_SPECIALS, vocab, "<bos>", "<eos>", "<pad>", "<unk>"
            ).save_pretrained(tmp)
            (tmp / "REHEARSAL.md").write_text("Random weights of gemma-2-2b's shape (bfloat16).\n")
    return {
        "path": str(path),
        "vocab_size": cfg["vocab_size"],
        "d_model": cfg["hidden_size"],
        "n_parameters": int(sum(np.prod(s) for _, s, _ in entries)),
        "identity": ident,
        "words": vocab,
    }


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


def residual_norms(
    model_dir: Path, corpus: Path, sizes: RehearsalSizes, layers: list[int]
) -> dict[int, float]:
    """Mean residual-stream norm after each block in ``layers`` over a few corpus tokens
    (BOS excluded), for calibrating the SAE thresholds to the model actually built."""
    import torch

    from ..models.loading import load_model, load_tokenizer
    from ..models.residual import residual_stream

    tokenizer = load_tokenizer(str(model_dir), "rehearsal.gemma")
    model = load_model(str(model_dir), "rehearsal.gemma", dtype="bfloat16")
    with open(corpus, encoding="utf-8") as fh:
        texts = [json.loads(next(fh))["text"] for _ in range(sizes.calibration_docs)]
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=sizes.calibration_tokens,
        return_tensors="pt",
        padding=True,
    )
    with torch.no_grad():
        resid = residual_stream(model, enc["input_ids"], enc["attention_mask"], layers)
    mask = enc["attention_mask"].bool().clone()
    mask[:, 0] = False  # the BOS position (dropped by the features stage too)
    return {layer: float(resid[layer][mask].norm(dim=-1).mean()) for layer in layers}


def gemma_scope_params(d_model: int, width: int, norm: float, target_l0: float, seed: int) -> dict:
    """A Gemma Scope JumpReLU SAE (params.npz arrays) with random unit decoder rows.

    W_enc[:, f] = W_dec[f] · √d / norm, b_enc = 0, so on a residual of norm ``norm`` in a
    random direction a pre-activation is ≈ N(0, 1); threshold = its upper (target_l0/width)
    quantile, so about target_l0 features fire per token, each with activation > threshold.
    """
    from scipy.stats import norm as gauss

    rng = np.random.default_rng(seed)
    w_dec = rng.standard_normal((width, d_model), dtype=np.float32)
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_enc = np.ascontiguousarray(w_dec.T * np.float32(math.sqrt(d_model) / norm))
    z = float(gauss.isf(min(1.0, target_l0 / width)))
    return {
        "W_enc": w_enc,
        "W_dec": w_dec,
        "b_enc": np.zeros(width, np.float32),
        "b_dec": np.zeros(d_model, np.float32),
        "threshold": np.full(width, max(z, 1.0), np.float32),
    }


def build_sae(
    build_dir: Path,
    template: str,
    layer: int,
    width: int,
    d_model: int,
    norm: float,
    target_l0: float,
    seed: int,
    force: bool = False,
) -> dict:
    path = build_dir / template.replace("{layer}", str(layer))
    part = {"width": width, "d_model": d_model, "norm": round(norm, 4), "target_l0": target_l0}
    ident = _identity(
        part, seed, model="gemma-2-2b", layer=layer, sae=template.replace("{layer}", str(layer))
    )
    if not _skip(path, ident, force):
        params = gemma_scope_params(d_model, width, norm, target_l0, seed + 100 + layer)
        with atomic_dir(path, PRODUCER, ident) as tmp:
            np.savez(tmp / "params.npz", **params)
    return {
        "path": str(path),
        "layer": layer,
        "width": width,
        "residual_norm": norm,
        "identity": ident,
    }


PARTS = ("llama", "gemma", "corpus", "saes")


def build(
    build_dir: str | Path,
    sizes: RehearsalSizes,
    seed: int = 0,
    parts: Iterable[str] = PARTS,
    force: bool = False,
) -> dict:
    """Build (or keep, when built before with the same sizes and seed) the rehearsal parts.

    parts: any of ``llama``, ``gemma``, ``corpus``, ``saes`` (the SAEs need the gemma model
    and the corpus, for calibration). Returns, and writes to ``rehearsal.json``, what the
    folder holds.
    """
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    parts = set(parts)
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown rehearsal parts {sorted(unknown)}; choose from {PARTS}")
    words = workflow_words()
    summary_path = build_dir / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary.update(seed=seed, sizes=sizes.as_dict())
    if "llama" in parts:
        log.info("building the Llama-2-7b-shaped checkpoint")
        summary["llama"] = build_llama(build_dir, sizes, seed, words, force)
    gemma = None
    if parts & {"gemma", "corpus", "saes"}:
        log.info("building the gemma-2-2b-shaped model")
        gemma = build_gemma(build_dir, sizes, seed, words, force)
        summary["gemma"] = {k: v for k, v in gemma.items() if k != "words"}
    if parts & {"corpus", "saes"}:
        log.info("building the corpus")
        fillers = gemma["words"][len(words) :] or gemma["words"]
        summary["corpus"] = build_corpus(build_dir, sizes, seed, fillers, force)
    if "saes" in parts:
        layers = sorted({sizes.lobes_layer, *sizes.galaxy_layers})
        log.info("calibrating SAE thresholds: residual norms at layers %s", layers)
        norms = residual_norms(build_dir / GEMMA_DIR, build_dir / CORPUS_FILE, sizes, layers)
        d = gemma["d_model"]
        saes = [
            build_sae(
                build_dir,
                LOBES_SAE,
                sizes.lobes_layer,
                sizes.lobes_width,
                d,
                norms[sizes.lobes_layer],
                sizes.target_l0,
                seed,
                force,
            )
        ]
        for layer in sizes.galaxy_layers:
            log.info("SAE layer %s, width %s", layer, sizes.galaxy_width)
            saes.append(
                build_sae(
                    build_dir,
                    GALAXY_SAE,
                    layer,
                    sizes.galaxy_width,
                    d,
                    norms[layer],
                    sizes.target_l0,
                    seed,
                    force,
                )
            )
        summary["saes"] = saes
        summary["residual_norms"] = {str(k): v for k, v in norms.items()}
    summary["layout"] = layout(build_dir)
    write_json(
        summary_path,
        summary,
        producer=PRODUCER,
        identity={"config": settings_hash({"sizes": sizes.as_dict(), "seed": seed})},
    )
    return summary
