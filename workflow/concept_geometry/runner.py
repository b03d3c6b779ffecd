"""The one way a Snakemake script runs: log to ``snakemake.log[0]``, clean errors.

Usage in ``workflow/scripts/<step>.py``::

    from concept_geometry.runner import run

    def main(smk, log):
        log.info("phase 1: ...")
        ...

    run(main, snakemake)  # noqa: F821  (injected by Snakemake)

``run`` sends stderr (so tqdm bars and warnings) to the rule's log file, sets up a
``logging`` logger that writes one line per phase, pins torch/BLAS threads to the rule's
``threads``, records the rule name so artifacts can name their producer, defers the
rename of every output to the end of the job (``io.transaction``: a killed job leaves no
output at all), and turns a
``ConceptGeometryError`` into one paragraph on the terminal and in the log (exit 1, no
traceback). Any other exception is a bug and keeps its traceback in the log.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import Any, Callable

from .errors import ConceptGeometryError
from .io import RULE_ENV, transaction


def get_logger(name: str = "concept_geometry") -> logging.Logger:
    return logging.getLogger(name)


FAULT_PAUSE_ENV = "CONCEPT_GEOMETRY_PAUSE_BEFORE_COMMIT"


def _fault_injection_pause(rule: str, log: logging.Logger) -> None:
    """Tests only: hold a job whose computation is done but whose outputs are not yet renamed
    into place (the worst moment to be killed) when the env var names its rule."""
    import time

    if os.environ.get(FAULT_PAUSE_ENV) == rule:
        log.info("paused before commit (%s)", FAULT_PAUSE_ENV)
        time.sleep(600)


# Storage faults the user fixes (not bugs): disk full, quota exceeded, read-only filesystem.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def _storage_error(err: OSError, outputs) -> ConceptGeometryError:
    where = err.filename or ", ".join(str(o) for o in outputs) or "an output under results/"
    fix = (
        "Make that folder writable (or run the workflow in a writable copy with `--directory`)"
        if err.errno == errno.EROFS
        else "Free space on that filesystem "
        "(or run the workflow on a larger one with `--directory`)"
    )
    return ConceptGeometryError(
        f"Could not write {where}: {os.strerror(err.errno)} (errno {errno.errorcode[err.errno]}). "
        f"{fix}, then re-run the same command: this job's outputs were not written (its temp "
        f"files are removed) and finished jobs' outputs are kept."
    )


def run(main: Callable[[Any, logging.Logger], None], smk: Any) -> None:
    rule = getattr(smk, "rule", "unknown")
    os.environ[RULE_ENV] = rule
    terminal = sys.__stderr__
    log_path = smk.log[0] if len(smk.log) else None
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        log_file = open(log_path, "w", buffering=1)
        sys.stderr = log_file
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [{rule}] %(message)s",
        stream=sys.stderr,
        force=True,
    )
    log = get_logger()
    threads = int(getattr(smk, "threads", 1) or 1)
    # BLAS/OpenMP libraries loaded later (scipy's own OpenBLAS, sklearn's OpenMP) read these
    # at load time; threadpool_limits below only reaches the ones already loaded.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover
        pass
    log.info("start (threads=%d)", threads)
    try:
        with transaction():  # every output appears at the very end, together
            main(smk, log)
            _fault_injection_pause(rule, log)
    except (ConceptGeometryError, OSError) as err:
        if isinstance(err, OSError):
            if err.errno not in _STORAGE_ERRORS:
                raise
            err = _storage_error(err, getattr(smk, "output", []))
        message = f"Error in rule `{rule}`: {err}"
        log.error(message)
        if terminal is not None and terminal is not sys.stderr:
            print(message, file=terminal, flush=True)
        sys.exit(1)
    log.info("done")
