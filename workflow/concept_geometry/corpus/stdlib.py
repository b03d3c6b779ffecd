"""The offline corpus: code and prose documents from this Python's standard library."""

from __future__ import annotations

import ast
import inspect
import sysconfig
from pathlib import Path

import pandas as pd

from ..errors import InputDataError
from .store import _frame

SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "site-packages",
    "dist-packages",
    "lib2to3",
    "__pycache__",
    "turtledemo",
    "tkinter",
    "ensurepip",
    "pydoc_data",
}


def _stdlib_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(part in SKIP_DIRS or part.startswith("test") for part in rel):
            continue
        files.append(path)
    return files


def _split_module(source: str) -> tuple[str, str]:
    """(code without docstrings, the module's docstrings joined) of one Python module."""
    tree = ast.parse(source)
    lines = source.splitlines()
    drop: set[int] = set()
    docs: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                doc = inspect.cleandoc(body[0].value.value)
                if doc:
                    docs.append(doc)
                drop.update(range(body[0].lineno - 1, body[0].end_lineno))
    code = "\n".join(line for i, line in enumerate(lines) if i not in drop and line.strip())
    return code, "\n\n".join(docs)


def stdlib_corpus(
    n_documents: int, min_chars: int = 200, max_chars: int = 20000, root: str | Path | None = None
) -> pd.DataFrame:
    """Offline two-category corpus from this Python's standard library (deterministic).

    Each module gives at most one ``code`` document (its source with docstrings and blank lines
    removed) and one ``prose`` document (its module/class/function docstrings, in source order).
    Modules are taken in sorted path order; ``n_documents`` is split evenly over the two
    categories (the first n/2 qualifying documents of each). Texts are cut to ``max_chars``.
    """
    root = Path(root or sysconfig.get_paths()["stdlib"])
    per_cat = {"code": n_documents - n_documents // 2, "prose": n_documents // 2}
    found: dict[str, list[str]] = {"code": [], "prose": []}
    for path in _stdlib_files(root):
        if all(len(found[c]) >= per_cat[c] for c in found):
            break
        try:
            code, prose = _split_module(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for cat, text in (("code", code), ("prose", prose)):
            text = text[:max_chars]
            if len(found[cat]) < per_cat[cat] and len(text) >= min_chars:
                found[cat].append(text)
    if any(len(found[c]) < per_cat[c] for c in found):
        raise InputDataError(
            f"The standard-library corpus under {root} has only {len(found['code'])} code and "
            f"{len(found['prose'])} prose documents of at least {min_chars} characters, fewer than "
            f"`features.corpus.n_documents` = {n_documents} asks for. Lower "
            f"`features.corpus.n_documents` or `features.corpus.min_chars`."
        )
    # Interleave so that the first documents of the corpus cover both categories.
    records = [
        (cat, found[cat][i])
        for i in range(max(per_cat.values()))
        for cat in ("code", "prose")
        if i < per_cat[cat]
    ]
    return _frame(records)
