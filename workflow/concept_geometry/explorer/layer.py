"""One layer's feature explorer: data (numbers, base64 typed arrays) and the HTML page."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd

ASSETS = Path(__file__).parent / "assets"
MISSING = 0  # token slot with no token (outside the document); vocabulary entries are 1-based


def _b64(array: np.ndarray, dtype) -> str:
    """Little-endian bytes of ``array`` as ``dtype``, base64 (JS reads them as a typed array)."""
    return base64.b64encode(
        np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    ).decode("ascii")


def display_tokens(vocab) -> list[str]:
    """Tokens as they read in running text: a leading space where a word starts.

    Byte-level BPE (GPT-2, Llama 3: ``Ġ``), SentencePiece (Gemma, Llama 2: ``▁``) and
    WordPiece (BERT, MiniLM: ``##`` continues a word, anything else starts one).
    """
    vocab = [str(t) for t in vocab]
    marked = any(t.startswith(("Ġ", "▁")) for t in vocab)
    out = []
    for t in vocab:
        if marked:
            s = t.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\n").replace("ĉ", "\t")
        else:
            s = t[2:] if t.startswith("##") else " " + t
        out.append(s)
    return out


def category_counts(blocks, category: np.ndarray, n_features: int) -> tuple[list[str], np.ndarray]:
    """Per feature, the number of chunks of each document category where it fires.

    blocks: iterable of (chunk numbers, CSR block (n, F)) as ``io.iter_sparse_rows`` yields;
    category: (n_chunks,) per chunk. Returns (categories sorted, (F, C) int64 counts).
    """
    category = np.asarray(category).astype(str)
    cats = sorted(set(category.tolist()))
    code = np.searchsorted(cats, category)
    out = np.zeros((n_features, len(cats)), dtype=np.int64)
    for rows, block in blocks:
        c = code[rows]
        for j in np.unique(c):
            out[:, j] += np.asarray((block[c == j] > 0).sum(axis=0)).ravel()
    return cats, out


def _colourings(labels: pd.DataFrame, n_features: int) -> list[dict]:
    """Every (variant, measure, k) labelling: each measure's lobes, then the geometric clusters."""
    groups = {key: sel for key, sel in labels.groupby(["variant", "measure", "k"], sort=False)}
    measures = list(dict.fromkeys(labels["measure"]))
    measures = [m for m in measures if m != "geometric"] + [m for m in measures if m == "geometric"]
    out = []
    for variant in ("corrected", "faithful"):
        for measure in measures:
            for k in sorted(set(labels["k"])):
                sel = groups.get((variant, measure, k))
                if sel is None:
                    continue
                lobe = np.full(n_features, -1, dtype=np.int64)
                lobe[sel["feature"].to_numpy()] = sel["lobe"].to_numpy()
                out.append({"variant": variant, "measure": measure, "k": int(k), "lobe": lobe})
    return out


def _lobe_summary(
    lobe: np.ndarray,
    k: int,
    spec: pd.DataFrame | None,
    firing_token: np.ndarray,
    display: list[str],
    top: int = 5,
) -> list[dict]:
    """Per lobe: size, the fraction of each category's chunks it wins, and its most frequent
    top-context (firing) tokens (ties: the earlier vocabulary entry first)."""
    size = np.bincount(lobe[lobe >= 0], minlength=k)
    ctx_lobe = np.repeat(lobe, firing_token.shape[1])
    tok = firing_token.ravel()
    ok = (ctx_lobe >= 0) & (tok != MISSING)
    pairs, counts = np.unique(ctx_lobe[ok] * (len(display) + 1) + tok[ok], return_counts=True)
    pair_lobe, pair_tok = pairs // (len(display) + 1), pairs % (len(display) + 1)
    order = np.lexsort((pair_tok, -counts, pair_lobe))
    by_lobe: dict[int, list] = {}
    for i in order:
        lst = by_lobe.setdefault(int(pair_lobe[i]), [])
        if len(lst) < top:
            lst.append([display[int(pair_tok[i]) - 1], int(counts[i])])
    fractions = {}
    if spec is not None:
        for j, c, f in zip(spec["lobe"], spec["category"], spec["fraction"], strict=False):
            fractions.setdefault(int(j), {})[str(c)] = None if pd.isna(f) else round(float(f), 4)
    rows = []
    for j in range(k):
        row = {"lobe": j, "size": int(size[j]), "tokens": by_lobe.get(j, [])}
        if spec is not None:
            row["specialization"] = fractions.get(j, {})
        rows.append(row)
    return rows


def layer_explorer_data(
    *,
    feature: np.ndarray,
    coords: np.ndarray,
    labels: pd.DataFrame,
    occurrences: np.ndarray,
    n_chunks: int,
    categories: list[str],
    category_chunks: np.ndarray,
    contexts: dict,
    specialization: pd.DataFrame,
    title: str,
    threshold: float,
) -> dict:
    """Everything one layer's page shows, as JSON-able data.

    feature: (n,) ids of the mapped features, coords: (n, 2) their 2-D map; labels: the
    lobes stage's labels.tsv; occurrences: (F,) histogram chunks where each feature fires, of
    ``n_chunks``; category_chunks: (F, C) chunks per category where it fires; contexts: the
    arrays of top_contexts.npz (activation, doc_id, position, snippet, tokens, window);
    specialization: the lobes stage's specialization.tsv.
    """
    n_features = int(np.asarray(occurrences).shape[0])
    act = np.asarray(contexts["activation"], dtype=np.float32)
    if act.shape[0] != n_features:
        raise ValueError(f"top contexts cover {act.shape[0]} features, the layer has {n_features}")
    n_top = act.shape[1]
    window = int(contexts["window"])
    display = display_tokens(contexts["tokens"])
    snippet = np.asarray(contexts["snippet"]).astype(np.int64) + 1  # 0 = no token
    tok_dtype = np.uint16 if len(display) < 65535 else np.uint32
    colourings = _colourings(labels, n_features)
    firing_token = snippet[:, :, window]
    specs = {
        key: sel for key, sel in specialization.groupby(["measure", "k", "variant"], sort=False)
    }
    for c in colourings:
        spec = None
        if c["measure"] != "geometric":
            spec = specs.get((c["measure"], c["k"], c["variant"]), specialization.iloc[:0])
        c["summary"] = _lobe_summary(c["lobe"], c["k"], spec, firing_token, display)
        c["lobe"] = _b64(c["lobe"] + 1, np.uint8 if c["k"] < 255 else np.uint16)
        c["lobe_bytes"] = 1 if c["k"] < 255 else 2
    freq = np.asarray(occurrences, dtype=np.float64) / max(int(n_chunks), 1)
    return {
        "title": title,
        "n_features": n_features,
        "threshold": float(threshold),
        "n_points": int(len(feature)),
        "feature": _b64(feature, np.int32),
        "x": _b64(np.asarray(coords)[:, 0], np.float32),
        "y": _b64(np.asarray(coords)[:, 1], np.float32),
        "freq": _b64(freq, np.float32),
        "n_chunks": int(n_chunks),
        "categories": list(categories),
        "category_chunks": _b64(category_chunks, np.uint32),
        "colourings": colourings,
        "n_top": int(n_top),
        "window": window,
        "vocab": display,
        "ctx_activation": _b64(np.nan_to_num(act, nan=-1.0), np.float32),
        "ctx_doc": _b64(np.asarray(contexts["doc_id"]), np.int32),
        "ctx_tokens": _b64(snippet, tok_dtype),
        "tok_bytes": np.dtype(tok_dtype).itemsize,
    }


def render_page(asset: str, data: dict) -> str:
    """The self-contained HTML page ``assets/<asset>.html`` with ``assets/<asset>.js`` and
    ``data`` inlined (no network access); ``data["title"]`` is the page title."""
    page = (ASSETS / f"{asset}.html").read_text()
    script = (ASSETS / f"{asset}.js").read_text()
    # JSON inside <script>: "<" escaped so no "</script>" in a token can end the element.
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return (
        page.replace("__TITLE__", _html_escape(data["title"]))
        .replace("/*__DATA__*/", blob)
        .replace("/*__SCRIPT__*/", script)
    )


def render_layer_explorer(data: dict) -> str:
    """The self-contained HTML page of one layer."""
    return render_page("layer", data)


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def explorer_map(
    decoder: np.ndarray,
    figure_map: tuple[np.ndarray, np.ndarray],
    embedding: str,
    seed: int,
    max_points: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's 2-D map: the lobes figure's own map (``figure_map`` = (indices, coords)
    of embedding_2d.npz, made by ``feature_cloud_2d`` with the same method and seed) when it
    already holds every feature the explorer shows, else ``feature_cloud_2d`` over
    ``max_points`` features (None: all)."""
    from ..lobes.plots import feature_cloud_2d

    n = decoder.shape[0]
    idx, coords = figure_map
    if (max_points is None or max_points >= n) and len(idx) == n:
        return np.asarray(idx), np.asarray(coords)
    return feature_cloud_2d(decoder, embedding, seed, max_points)


def layer_explorer_page(
    *,
    decoder: np.ndarray,
    figure_map: tuple,
    firing_blocks,
    chunk_category: np.ndarray,
    occurrences: np.ndarray,
    n_chunks: int,
    labels: pd.DataFrame,
    specialization: pd.DataFrame,
    contexts: dict,
    embedding: str,
    seed: int,
    max_points: int | None,
    title: str,
    threshold: float,
) -> str:
    """The HTML page of one layer, from the stage artifacts' arrays.

    decoder: (F, d) W_dec; figure_map: (indices, coords) of the lobes figure's 2-D map;
    firing_blocks: (chunk numbers, CSR block) of firings.npz with chunk_category (n_chunks,);
    occurrences, n_chunks: cooccurrence.npz; labels, specialization: the lobes tables;
    contexts: top_contexts.npz. The map: ``explorer_map``.
    """
    feature, coords = explorer_map(decoder, figure_map, embedding, seed, max_points)
    categories, counts = category_counts(firing_blocks, chunk_category, decoder.shape[0])
    data = layer_explorer_data(
        feature=feature,
        coords=coords,
        labels=labels,
        occurrences=occurrences,
        n_chunks=n_chunks,
        categories=categories,
        category_chunks=counts,
        contexts=contexts,
        specialization=specialization,
        title=title,
        threshold=threshold,
    )
    return render_layer_explorer(data)
