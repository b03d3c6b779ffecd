"""Atomic, integrity-checked artifacts: every file that crosses a rule boundary.

Writers put the data in a temp file in the same folder, write a checksum sidecar
(``<file>.sha256``: JSON with sha256, size, the producing rule and the artifact's identity),
then rename the temp file into place. A job killed mid-write therefore never leaves a file
that looks complete, and readers refuse a truncated or altered file with a message naming
the file and the rule that makes it.

Identity (provenance): a writer given ``identity=`` (model, corpus, layer, SAE, a hash of
the settings that made it; rules build it, ``common.smk``) records it in the sidecar, and a
reader given ``expect=`` refuses an artifact whose identity differs in any expected key — a
file intact but copied from another layer, model or run — with one paragraph naming both.
A file that records no identity (placed by hand, e.g. a planted test input) is read with a
logged warning.

Formats: ``.npz`` (numpy arrays, scipy sparse matrices as ``<name>__csr_*`` groups),
``.npy``, ``.tsv`` (pandas, tab-separated), ``.json``, and directories (e.g. an SAE saved
by SAELens) with a ``MANIFEST.sha256.json`` covering every file in them.

Modules: ``commit`` (temp file + rename, the job's transaction and its journal), ``checksums``
(sidecars, manifests, identities, ``verify``), ``formats`` (npz/npy/tsv/json readers and
writers; ``open_npz`` verifies a file once for several reads), ``sparse`` (the streamed
sparse-rows codec) and ``pending`` (what the current job has written but not yet renamed).
"""

from .checksums import MANIFEST, SIDECAR_SUFFIX, sha256_file, sidecar, verify
from .commit import (
    JOURNAL_MARK,
    RULE_ENV,
    atomic_dir,
    atomic_path,
    check_writable,
    remove_path,
    roll_forward,
    transaction,
)
from .formats import (
    VerifiedNpz,
    concat_tsv,
    iter_sparse_rows,
    open_npz,
    read_json,
    read_npy,
    read_npz,
    read_tsv,
    write_json,
    write_npy,
    write_npz,
    write_tsv,
)
from .pending import resolve
from .sparse import SparseRowsWriter

__all__ = [
    "MANIFEST",
    "SIDECAR_SUFFIX",
    "JOURNAL_MARK",
    "RULE_ENV",
    "sha256_file",
    "sidecar",
    "verify",
    "atomic_dir",
    "atomic_path",
    "check_writable",
    "remove_path",
    "roll_forward",
    "transaction",
    "VerifiedNpz",
    "concat_tsv",
    "iter_sparse_rows",
    "open_npz",
    "read_json",
    "read_npy",
    "read_npz",
    "read_tsv",
    "write_json",
    "write_npy",
    "write_npz",
    "write_tsv",
    "resolve",
    "SparseRowsWriter",
]
