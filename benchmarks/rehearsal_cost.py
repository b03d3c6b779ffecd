"""Cost of rehearsal jobs at the papers' true shapes: wall time, peak RSS, output size.

Runs the workflow with config/paper.yaml + config/rehearsal.yaml (plus any extra config
files) on the given targets in a work folder, then tabulates, per job, the wall seconds and
peak RSS of Snakemake's benchmark files (``benchmarks/peak_rss.py``) and the bytes of the
outputs of each rule (``snakemake --summary``). Build the rehearsal first
(``python -m concept_geometry.rehearsal build resources/rehearsal``, README "Rehearsal").

    python benchmarks/rehearsal_cost.py WORKDIR TARGET... [--configfile extra.yaml]

Example (the alignment stage on the Llama-2-7b-shaped checkpoint):

    nice -n 10 python benchmarks/rehearsal_cost.py /tmp/rc results/alignment/llama-2-7b/summary.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak_rss import collect  # noqa: E402 (needs the sys.path line above)


def snakemake(workdir: Path, configs: list[str], *args: str, **kw) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",
        *configs,
    ]
    return subprocess.run(cmd, text=True, capture_output=True, check=kw.pop("check", False), **kw)


def output_sizes(workdir: Path, configs: list[str]) -> pd.DataFrame:
    """Bytes of the existing outputs per rule (from ``snakemake --summary``)."""
    proc = snakemake(workdir, configs, "--summary", check=True)
    rows = []
    for line in proc.stdout.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        path = Path(parts[0])
        path = path if path.is_absolute() else workdir / path
        if path.is_file():
            size = path.stat().st_size
        elif path.is_dir():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        else:
            continue
        rows.append({"rule": parts[2], "bytes": size})
    frame = pd.DataFrame(rows, columns=["rule", "bytes"])
    return frame.groupby("rule", as_index=False)["bytes"].sum()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("targets", nargs="+")
    parser.add_argument(
        "--configfile",
        action="append",
        default=[],
        help="extra config files merged last (repeatable)",
    )
    args = parser.parse_args(argv)
    configs = [
        str(ROOT / "config/paper.yaml"),
        str(ROOT / "config/rehearsal.yaml"),
        *args.configfile,
    ]
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    proc = snakemake(args.workdir, configs, *args.targets)
    wall = time.time() - start
    print(f"snakemake rc={proc.returncode}, {wall:.0f} s wall in all")
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:])
        return proc.returncode
    bench = args.workdir / "results/benchmarks"
    jobs = collect(bench)  # peak RSS and wall seconds, as benchmarks/peak_rss.py prints them
    # CPU seconds too: on a shared machine they say more than the wall time does.
    cpu = {
        str(p.relative_to(bench).with_suffix("")): float(pd.read_csv(p, sep="\t")["cpu_time"].max())
        for p in sorted(bench.rglob("*.tsv"))
    }
    jobs["cpu_s"] = jobs["job"].map(cpu)
    print(jobs.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(output_sizes(args.workdir, configs).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
