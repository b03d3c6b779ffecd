"""Word→word relation pairs (Todd et al. 2024 "Function Vectors" datasets) and their
seeded per-relation subsampling.

Li et al. 2024, "The Geometry of Concepts", atom scale ("crystals"): each pair (a, b) of a
relation gives one difference vector b − a in the model's residual stream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputDataError

PAIR_COLUMNS = ["relation", "input", "output"]


def load_relation_file(path: str | Path) -> pd.DataFrame:
    """One relation file: a JSON list of {"input": str, "output": str}.

    Returns a frame with columns relation (the file stem), input, output, in file order.
    Raises InputDataError naming the file when it is not in that format.
    """
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (Windows editors) is not JSON
        records = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputDataError(
            f"Relation file {path} could not be read as JSON ({err}). Each relation file must be "
            'a JSON list of {"input": word, "output": word} objects (see '
            "config/relations/README.md)."
        ) from None
    bad = None
    if not isinstance(records, list) or not records:
        bad = "it is not a non-empty JSON list"
    else:
        for i, rec in enumerate(records):
            if not (
                isinstance(rec, dict)
                and isinstance(rec.get("input"), str)
                and isinstance(rec.get("output"), str)
            ):
                bad = f'entry {i} is {rec!r}, not {{"input": str, "output": str}}'
                break
    if bad:
        raise InputDataError(
            f"Relation file {path} is malformed: {bad}. Each relation file must be a JSON list of "
            f'{{"input": word, "output": word}} objects (see config/relations/README.md).'
        )
    frame = pd.DataFrame(
        {"input": [r["input"] for r in records], "output": [r["output"] for r in records]}
    )
    frame.insert(0, "relation", path.stem)
    return frame


def load_relations(
    directory: str | Path, names: Sequence[str] | None = None, key: str = "crystals.relations"
) -> pd.DataFrame:
    """All relation files in ``directory`` (sorted by name), or only ``names``.

    Returns one frame (relation, input, output). Raises InputDataError for a missing folder or
    a listed relation without a file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputDataError(
            f"Relation folder {directory} (config key `crystals.relations_dir`) does not exist. "
            f"Point it at a folder of relation JSON files, e.g. config/relations."
        )
    available = {p.stem: p for p in sorted(directory.glob("*.json"))}
    if names is None:
        names = sorted(available)
    missing = [n for n in names if n not in available]
    if missing or not names:
        raise InputDataError(
            f"Relations {missing or '(none)'} (config key `{key}`) have no JSON file in "
            f"{directory}; "
            f"available: {sorted(available) or '(none)'}. Fix `{key}` or add the files."
        )
    return pd.concat([load_relation_file(available[n]) for n in names], ignore_index=True)


def load_relation_files(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The relation files ``paths`` (one relation each, named by file stem), in one frame."""
    if not paths:
        raise InputDataError(
            "No relation files to read: `crystals.relations_dir` holds no *.json file. Point it "
            "at a folder of relation JSON files, e.g. config/relations."
        )
    return pd.concat([load_relation_file(p) for p in paths], ignore_index=True)


def subsample_pairs(
    pairs: pd.DataFrame, max_per_relation: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    """At most ``max_per_relation`` pairs of each relation, drawn without replacement.

    Relations are visited in sorted order and pairs keep their file order, so the result
    depends only on the generator's seed. ``None`` keeps every pair.
    """
    if max_per_relation is None:
        return pairs.reset_index(drop=True)
    keep = []
    for _, group in pairs.groupby("relation", sort=True):
        idx = group.index.to_numpy()
        if len(idx) > max_per_relation:
            idx = np.sort(rng.choice(idx, size=max_per_relation, replace=False))
        keep.append(idx)
    return pairs.loc[np.concatenate(keep)].reset_index(drop=True)
