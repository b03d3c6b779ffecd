"""The crystals page of one layer: relation pairs in 2-D (raw, distractor removed, held-out LDA)."""

from __future__ import annotations

import numpy as np

from .layer import _b64, render_page

SPACES = {
    "raw": "raw (first two PCs)",
    "distractor_removed": "distractor removed (first two PCs)",
    "lda": "corrected, held-out LDA",
}


def crystals_explorer_data(
    *, coords: dict, relation: np.ndarray, inputs: np.ndarray, outputs: np.ndarray, title: str
) -> dict:
    """coords: {space: (n, 2) or (n, 1)} views of the held-out pairs (views.npz); relation,
    inputs, outputs: (n,) the pairs' relation and words, in the same order."""
    relation = np.asarray(relation).astype(str)
    names = sorted(set(relation.tolist()))
    code = np.searchsorted(names, relation)
    spaces = []
    for space, label in SPACES.items():
        if space not in coords:
            continue
        xy = np.asarray(coords[space], dtype=np.float64)
        # one LDA direction: LD1 against one row per relation, as the static figure
        y = xy[:, 1] if xy.shape[1] > 1 else code.astype(np.float64)
        spaces.append(
            {
                "space": space,
                "label": label,
                "strip": bool(xy.shape[1] == 1),
                "x": _b64(xy[:, 0], np.float32),
                "y": _b64(y, np.float32),
            }
        )
    return {
        "title": title,
        "relations": names,
        "relation": _b64(code, np.uint16),
        "inputs": [str(w) for w in inputs],
        "outputs": [str(w) for w in outputs],
        "n_points": int(len(relation)),
        "spaces": spaces,
    }


def render_crystals_explorer(data: dict) -> str:
    return render_page("crystals", data)


def crystals_explorer_page(*, views: dict, pairs, title: str) -> str:
    """The crystals page from the arrays of views.npz and the pairs.tsv frame of one layer
    (its used pairs, in order, are the rows of differences.npz that views.npz indexes)."""
    used = pairs[pairs["used"].astype(bool)].reset_index(drop=True)
    relation = np.asarray(views["relation"]).astype(str)
    if len(used) != len(relation) or (used["relation"].astype(str).to_numpy() != relation).any():
        raise ValueError(
            f"pairs.tsv lists {len(used)} used pairs, views.npz {len(relation)}, or "
            "their relations differ: they come from different runs. Re-run the "
            "crystals stage (`snakemake --forcerun crystals_differences`)."
        )
    idx = np.asarray(views["eval_index"])
    coords = {k[len("coords_") :]: views[k] for k in views if k.startswith("coords_")}
    return render_crystals_explorer(
        crystals_explorer_data(
            coords=coords,
            relation=relation[idx],
            inputs=used["input"].to_numpy()[idx],
            outputs=used["output"].to_numpy()[idx],
            title=title,
        )
    )
