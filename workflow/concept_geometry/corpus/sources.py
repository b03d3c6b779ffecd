"""Corpus sources: offline standard-library text, local files, a streamed HF dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError, MissingResourceError
from .stdlib import SKIP_DIRS, _split_module, _stdlib_files, stdlib_corpus  # noqa: F401 (re-exported)
from .store import COLUMNS, _frame  # noqa: F401 (re-exported)

_MISSING = object()


def _field(record: dict, dotted: str):
    """The value at ``dotted`` (nested dicts, or JSON strings holding dicts); _MISSING if absent."""
    value = record
    for part in dotted.split("."):
        if isinstance(value, str) and part != dotted:
            try:
                value = json.loads(value)
            except ValueError:
                return _MISSING
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _records_to_docs(
    records: Iterator[dict],
    n_documents: int,
    text_field: str,
    category_field: str,
    min_chars: int,
    max_chars: int,
    where: str,
) -> pd.DataFrame:
    out = []
    for i, record in enumerate(records):
        for key, name in (("text_field", text_field), ("category_field", category_field)):
            value = _field(record, name)
            if value is _MISSING:
                raise InputDataError(
                    f"Record {i} of {where} has no field `{name}` (fields: {sorted(record)}). Set "
                    f"`features.corpus.text_field` / `features.corpus.category_field` (dotted for "
                    f"nested fields, e.g. `meta.pile_set_name`)."
                )
            if not isinstance(value, str):
                raise InputDataError(
                    f"Record {i} of {where} has `{name}` = {json.dumps(value, default=repr)[:80]}, "
                    f"not a string (config key `features.corpus.{key}`). Every record's text and "
                    f"category must be strings: fix or drop that record, or point "
                    f"`features.corpus.{key}` at a string field."
                )
        text = _field(record, text_field)[:max_chars]
        if len(text) >= min_chars:
            out.append((_field(record, category_field), text))
        if len(out) >= n_documents:
            break
    if not out:
        raise InputDataError(
            f"The corpus {where} gave no document of at least {min_chars} characters (empty file "
            "or "
            f"wrong `features.corpus.text_field`). Give a non-empty corpus or lower "
            f"`features.corpus.min_chars`."
        )
    return _frame(out)


def read_local_corpus(
    path: str | Path,
    n_documents: int,
    text_field: str = "text",
    category_field: str = "meta.pile_set_name",
    min_chars: int = 0,
    max_chars: int = 20000,
) -> pd.DataFrame:
    """The first ``n_documents`` documents of a local .jsonl, .jsonl.zst or .parquet file."""
    path = Path(path)
    if not path.exists():
        raise MissingResourceError(
            f"Corpus file {path} (config key `features.corpus.path`) does not exist. Check the "
            "path "
            f"(relative paths are relative to the repository root)."
        )
    name = path.name.lower()
    if name.endswith(".parquet"):
        records = iter(pd.read_parquet(path).to_dict("records"))
    elif name.endswith((".jsonl", ".jsonl.zst", ".json")):
        records = _jsonl(path)
    else:
        raise ConfigError(
            f"Invalid config: key `features.corpus.path` = {str(path)!r} has an unsupported "
            "format; "
            f"use .jsonl, .jsonl.zst or .parquet."
        )
    return _records_to_docs(
        records, n_documents, text_field, category_field, min_chars, max_chars, str(path)
    )


def _jsonl(path: Path) -> Iterator[dict]:
    import io

    if path.name.lower().endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise MissingResourceError(
                f"Corpus file {path} is zstd-compressed but the Python package `zstandard` is not "
                f"installed. Install it (`pip install zstandard`) or decompress the file "
                f"(`zstd -d {path}`) and point `features.corpus.path` at the .jsonl."
            ) from None
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
        fh = io.TextIOWrapper(raw, encoding="utf-8")
    else:
        fh = open(path, encoding="utf-8")
    jsonl = (
        'one JSON object per line, e.g. {"text": ..., "meta": {"pile_set_name": ...}}; '
        f"a file holding one JSON array converts with `jq -c '.[]' {path} > corpus.jsonl`"
    )
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as err:
                    raise InputDataError(
                        f"Line {lineno} of corpus file {path} is not JSON ({err}). "
                        f"A corpus file holds {jsonl}."
                    ) from None
                if not isinstance(record, dict):
                    raise InputDataError(
                        f"Line {lineno} of corpus file {path} is a JSON {type(record).__name__}, "
                        f"not an object. A corpus file holds {jsonl}."
                    )
                yield record
        except UnicodeDecodeError as err:
            raise InputDataError(
                f"Corpus file {path} is not UTF-8 text (after line {lineno}: {err.reason} at "
                f"byte {err.start} of a read block). Re-encode it as UTF-8, e.g. "
                f"`iconv -f latin1 -t utf-8 {path} > corpus.jsonl` (config key "
                f"`features.corpus.path`)."
            ) from None


def stream_hf_corpus(
    dataset: str,
    split: str,
    n_documents: int,
    text_field: str = "text",
    category_field: str = "meta.pile_set_name",
    min_chars: int = 0,
    max_chars: int = 20000,
) -> pd.DataFrame:
    """The first ``n_documents`` of a Hugging Face dataset, streamed (The Pile uncopyrighted)."""
    from ..models.loading import hub_reachable

    how = (
        f"To run offline, download the first documents on a machine with network access (e.g. "
        f"`datasets.load_dataset('{dataset}', split='{split}', streaming=True)`, write them as "
        f"jsonl with fields `{text_field}` and `{category_field}`), copy the file here and set "
        f"`features.corpus.source: local` and `features.corpus.path: /path/to/file.jsonl`."
    )
    if not hub_reachable():
        raise MissingResourceError(
            f"The corpus dataset `{dataset}` (config key `features.corpus.dataset`) must be "
            "streamed "
            f"from the Hugging Face hub, which is not reachable from this machine. {how}"
        )
    import datasets

    try:
        stream = datasets.load_dataset(dataset, split=split, streaming=True)
        return _records_to_docs(
            iter(stream),
            n_documents,
            text_field,
            category_field,
            min_chars,
            max_chars,
            f"dataset {dataset}",
        )
    except (OSError, ValueError, ConnectionError) as err:
        raise MissingResourceError(
            f"Could not stream dataset `{dataset}` split `{split}`: {str(err).splitlines()[0]}. "
            f"{how}"
        ) from None


def load_corpus(cfg: dict, path: str | None = None) -> pd.DataFrame:
    """The corpus described by the ``features.corpus`` config section (``path`` resolved)."""
    common = dict(min_chars=cfg["min_chars"], max_chars=cfg["max_chars"])
    if cfg["source"] == "stdlib":
        return stdlib_corpus(cfg["n_documents"], **common)
    fields = dict(text_field=cfg["text_field"], category_field=cfg["category_field"], **common)
    if cfg["source"] == "local":
        if not path:
            raise ConfigError(
                "Invalid config: `features.corpus.source: local` needs "
                "`features.corpus.path` (a .jsonl, .jsonl.zst or .parquet file)."
            )
        return read_local_corpus(path, cfg["n_documents"], **fields)
    return stream_hf_corpus(cfg["dataset"], cfg["dataset_split"], cfg["n_documents"], **fields)


def split_documents(categories: np.ndarray, heldout_fraction: float, seed: int) -> np.ndarray:
    """Assign documents to ``histogram`` or ``heldout``, stratified by category.

    categories: (n_docs,) str. Returns (n_docs,) str array. Within each category,
    round(fraction·n) documents, chosen by a seeded permutation, are held out, but never all
    of a category's documents when it has more than one.
    """
    categories = np.asarray(categories)
    split = np.full(len(categories), "histogram", dtype="<U9")
    rng = np.random.default_rng(seed)
    for cat in sorted(set(categories.tolist())):
        idx = np.flatnonzero(categories == cat)
        n_out = int(round(heldout_fraction * len(idx)))
        if len(idx) > 1:
            n_out = min(n_out, len(idx) - 1)
        split[rng.permutation(idx)[:n_out]] = "heldout"
    return split
