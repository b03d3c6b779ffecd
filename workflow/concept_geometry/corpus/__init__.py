"""Text corpora for Paper B's data stage, all behind one interface (``load_corpus``).

A corpus is a pandas DataFrame with one row per document: ``doc_id`` (int64, 0..n-1),
``category`` (str: ``code``/``prose`` for the offline corpus, the Pile subset name
``meta.pile_set_name`` for The Pile) and ``text`` (str). ``split_documents`` then assigns
each document to the co-occurrence ``histogram`` or the ``heldout`` part (Li et al. 2024,
"Data"; the held-out part makes the downstream specialisation tests out of sample).
"""

from .sources import (  # noqa: F401
    load_corpus,
    read_local_corpus,
    split_documents,
    stdlib_corpus,
    stream_hf_corpus,
)
from .store import read_documents, write_documents  # noqa: F401,E402
