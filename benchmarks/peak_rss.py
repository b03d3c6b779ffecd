"""Peak memory (max RSS) per job of a finished run, heaviest first.

Snakemake's ``benchmark:`` files (results/benchmarks/<stage>/<job>.tsv) record each heavy
job's wall time and max RSS; this script tabulates them. Run after a workflow run:

    python benchmarks/peak_rss.py [results/benchmarks]

Prints one line per job (max RSS in MiB, wall seconds) and the heaviest job last.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def collect(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        if frame.empty or "max_rss" not in frame:
            continue
        rows.append(
            {
                "job": str(path.relative_to(root).with_suffix("")),
                "max_rss_mib": float(pd.to_numeric(frame["max_rss"], errors="coerce").max()),
                "seconds": float(frame["s"].max()),
            }
        )
    return pd.DataFrame(rows, columns=["job", "max_rss_mib", "seconds"])


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "results/benchmarks")
    table = collect(root)
    if table.empty:
        print(f"No benchmark files under {root}: run the workflow first (snakemake --cores all).")
        return 1
    table = table.sort_values("max_rss_mib")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    top = table.iloc[-1]
    print(f"\nheaviest job: {top.job}: peak RSS {top.max_rss_mib:.0f} MiB, {top.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
