"""Cost of rehearsal jobs at the papers' true shapes: wall time, peak RSS, output size.

Runs the workflow with config/paper.yaml + config/rehearsal.yaml (plus any extra config
files) on the given targets in a work folder, then tabulates, per job, the wall seconds and
peak RSS of Snakemake's benchmark files (``benchmarks/peak_rss.py``) and the bytes of the
outputs of each rule (``snakemake --summary``). Build the rehearsal first
(``python -m concept_geometry.rehearsal build resources/rehearsal``, README "Rehearsal").

    python benchmarks/rehearsal_cost.py WORKDIR TARGET... [--configfile extra.yaml]
    python benchmarks/rehearsal_cost.py WORKDIR --collect     # tabulate a finished run

Each job's row also shows what its rule requests (``resources:`` in ``workflow/rules``, as
``snakemake -n --forceall`` prints them for attempt 1: threads, mem_mb, runtime, gpu) and
whether the measured peak RSS fits the memory request (``mem_fits``: request / peak).

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


RESOURCE_KEYS = ("threads", "mem_mb", "runtime", "gpu")


def parse_requests(dry_run: str) -> pd.DataFrame:
    """Per job of a ``snakemake -n`` listing: its benchmark name (the path under
    ``results/benchmarks`` without ``.tsv``, as ``peak_rss.collect`` names jobs), rule,
    threads (1 when not printed), mem_mb, runtime (minutes) and gpu (0 when not printed)."""
    rows, job = [], None
    for line in dry_run.splitlines():
        text = line.strip()
        if line.startswith(("rule ", "localrule ")) and text.endswith(":"):
            job = {"rule": text.split()[1].rstrip(":"), "threads": 1, "gpu": 0}
            rows.append(job)
        elif job is None:
            continue
        elif text.startswith("benchmark:"):
            path = text.split(":", 1)[1].strip()
            job["job"] = str(Path(path).relative_to("results/benchmarks").with_suffix(""))
        elif text.startswith("threads:"):
            job["threads"] = int(text.split(":", 1)[1])
        elif text.startswith("resources:"):
            for item in text.split(":", 1)[1].split(","):
                key, _, value = item.strip().partition("=")
                if key in RESOURCE_KEYS:
                    job[key] = int(value)
    frame = pd.DataFrame([r for r in rows if "job" in r])
    return frame.reindex(columns=["job", "rule", *RESOURCE_KEYS])


def requests(workdir: Path, configs: list[str]) -> pd.DataFrame:
    """What every job of the DAG requests (attempt 1), from a forced dry run."""
    return parse_requests(snakemake(workdir, configs, "-n", "--forceall", check=True).stdout)


def fit_table(measured: pd.DataFrame, requested: pd.DataFrame) -> pd.DataFrame:
    """Measured jobs joined with their requests; mem_fits = mem_mb / peak RSS (MB)."""
    table = measured.merge(requested, on="job", how="left")
    peak_mb = table["max_rss_mib"] * 2**20 / 1e6
    table["mem_fits"] = table["mem_mb"] / peak_mb
    return table


def markdown(table: pd.DataFrame) -> str:
    """One Markdown row per job: wall, CPU, peak RSS, and the rule's request with its margin."""
    lines = [
        "| job | wall | CPU | peak RSS | request (attempt 1) | memory margin |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in table.sort_values("job").itertuples():
        gpu = ", 1 GPU" if row.gpu else ""
        lines.append(
            f"| `{row.job}` | {row.seconds:,.0f} s | {row.cpu_s:,.0f} s | "
            f"{row.max_rss_mib:,.0f} MiB | {row.mem_mb:,.0f} MB, {row.runtime:,.0f} min{gpu} | "
            f"{row.mem_fits:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("targets", nargs="*")
    parser.add_argument(
        "--configfile",
        action="append",
        default=[],
        help="extra config files merged last (repeatable)",
    )
    parser.add_argument(
        "--collect", action="store_true", help="do not run: tabulate what WORKDIR holds"
    )
    parser.add_argument("--markdown", action="store_true", help="print the job table as Markdown")
    args = parser.parse_args(argv)
    configs = [
        str(ROOT / "config/paper.yaml"),
        str(ROOT / "config/rehearsal.yaml"),
        *args.configfile,
    ]
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.collect:
        if not args.targets:
            parser.error("give TARGETs to run, or --collect")
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
    table = fit_table(jobs, requests(args.workdir, configs))
    if args.markdown:
        print(markdown(table))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(output_sizes(args.workdir, configs).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
