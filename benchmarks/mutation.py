"""Mutation testing, on demand (not in CI): how many injected bugs the fast unit tests catch.

mutmut (pinned in the ``mutation`` extra: ``pip install -e .[mutation]``) rewrites each
function of a package into variants with one small change (``+`` -> ``-``, ``<`` -> ``<=``,
a constant off by one, an argument dropped ...) and runs the unit tests that call that
function against each variant. A variant the tests fail on is *killed*; one they pass is a
*survivor*: either a gap in the tests or an *equivalent* mutant (the change cannot alter any
result), which ``benchmarks/mutation_equivalent.md`` lists with a reason.

The packages, the modules each one mutates and the tests that guard them are in
``pyproject.toml`` (``[tool.concept_geometry.mutation.<package>]``; common mutmut settings in
``[tool.mutmut]``: plotting modules are not mutated, ``workflow``/``slurm`` tests never run).
mutmut names mutants after the module path and only imports from ./, src/ or source/, so each
run stages ``workflow/concept_geometry`` as ``src/concept_geometry`` (plus tests/, config/ and
workflow/schemas/; not the package under workflow/, which would shadow the mutated copy)
in ``.mutation/<package>/`` (git-ignored) and runs mutmut there, on one core by default:

    python benchmarks/mutation.py --package galaxy
    python benchmarks/mutation.py --package lobes crystals --max-children 2
    python benchmarks/mutation.py --all
    python benchmarks/mutation.py --package alignment --sample 150   # a random subset

It prints, and writes to ``.mutation/<package>.tsv``, one row per module: killed / survived /
timeout / no tests / other, the survivors judged equivalent, and the score
killed / (total - equivalent). ``--retest`` (after adding tests or simplifying code) reruns
only the mutants the last run did not kill, plus those of functions whose code changed;
``--report-only`` re-tabulates the last run without running.
Survivors are listed in ``.mutation/<package>.survivors.txt``; ``mutmut show NAME`` (run
inside ``.mutation/<package>/``) prints a mutant's diff.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutation"
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.md"

# mutmut 3.8.1's exit codes (mutmut/stats.py: status_by_exit_code), folded to our columns.
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no_tests",
    33: "no_tests",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
}
COLUMNS = ("total", "killed", "survived", "timeout", "no_tests", "other", "equivalent", "score")


def settings() -> tuple[dict, dict]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["mutmut"], data["tool"]["concept_geometry"]["mutation"]


def toml_value(value) -> str:
    """A TOML literal for the str / number / bool / list-of-str values [tool.mutmut] uses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def stage(
    package: str, common: dict, spec: dict, keep: bool = False, tests_from: str | None = None
) -> Path:
    """Scratch copy: src/concept_geometry, tests/, config/, a pyproject for this run.

    keep: update the copy in place, so mutmut keeps the results of functions whose code
    did not change (it regenerates the mutants of changed ones). tests_from: a git ref whose
    tests/ to use instead of the working tree's (e.g. a baseline before new tests)."""
    work = SCRATCH / package
    if work.exists() and not keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for src, dst in (
        (ROOT / "workflow" / "concept_geometry", work / "src" / "concept_geometry"),
        (ROOT / "workflow" / "schemas", work / "workflow" / "schemas"),
        (ROOT / "tests", work / "tests"),
        (ROOT / "config", work / "config"),
    ):
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=ignore)
    if tests_from is not None:
        shutil.rmtree(work / "tests")
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", tests_from, "tests"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    cfg = dict(common, only_mutate=spec["mutate"], pytest_add_cli_args_test_selection=spec["tests"])
    lines = ["[tool.mutmut]"] + [f"{k} = {toml_value(v)}" for k, v in cfg.items()]
    lines += ["", "[tool.pytest.ini_options]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in pytest_ini["ini_options"].items()]
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return work


def mutmut_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the staged (mutated) package must be the one imported
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"  # one core per child: the run's core count is --max-children
    return env


def mutant_names(work: Path) -> list[str]:
    """Every mutant of the staged package (mutmut writes them on its first `run`)."""
    names = []
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        names.extend(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def previous(package: str, statuses: set[str]) -> list[str]:
    """Mutants of the last run of ``package`` with one of ``statuses``."""
    names = []
    for meta in sorted((SCRATCH / package / "mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        names += [
            k for k, v in codes.items() if v is not None and STATUS.get(v, "other") in statuses
        ]
    return names


def run_package(
    package: str,
    common: dict,
    spec: dict,
    max_children: int,
    sample: int | None,
    seed: int,
    retest: bool = False,
    tests_from: str | None = None,
) -> float:
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
    t0 = time.perf_counter()
    if retest:
        # after new tests or simplified code: rerun what was not killed, keep the rest
        again = previous(package, {"survived", "timeout", "no_tests", "other"})
        work = stage(package, common, spec, keep=True, tests_from=tests_from)
        if sample is None:  # mutants of changed functions (result reset) first
            subprocess.run(cmd, cwd=work, env=mutmut_env(), capture_output=True, text=True)
        names = set(mutant_names(work))
        cmd = cmd + sorted(n for n in again if n in names)
        if len(cmd) == 5:
            return time.perf_counter() - t0
    else:
        work = stage(package, common, spec, tests_from=tests_from)
    if sample is not None and not retest:
        # generate the mutants (and the test map) on a single mutant, then run a seeded sample
        first = subprocess.run(
            cmd + ["no-such-mutant"], cwd=work, env=mutmut_env(), capture_output=True, text=True
        )
        names = mutant_names(work)
        if not names:
            raise SystemExit(
                f"mutmut produced no mutants for {package}:\n{first.stdout[-3000:]}"
                f"\n{first.stderr[-3000:]}"
            )
        chosen = sorted(random.Random(seed).sample(names, min(sample, len(names))))
        cmd = cmd + chosen
    proc = subprocess.run(cmd, cwd=work, env=mutmut_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    (SCRATCH / f"{package}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode < 0:
        # e.g. a mutant that sends a signal to a PID a test hands it (the test's parent is
        # mutmut itself): let no test give code under test a process it did not start
        raise SystemExit(
            f"mutmut was killed by signal {-proc.returncode} while testing {package} "
            f"(a mutant or a test signalled a process outside the test); the "
            f"mutants without a result in .mutation/{package}/mutants/**/*.meta are "
            f"the suspects; run them one at a time with `mutmut run NAME` in "
            f".mutation/{package}/. Log: {SCRATCH / (package + '.log')}"
        )
    if proc.returncode != 0:
        raise SystemExit(
            f"mutmut run failed for {package} (exit {proc.returncode}); "
            f"see {SCRATCH / (package + '.log')}:\n{proc.stdout[-3000:]}"
            f"\n{proc.stderr[-3000:]}"
        )
    return elapsed


def equivalent_mutants() -> set[str]:
    """Mutant names listed as equivalent in benchmarks/mutation_equivalent.md."""
    if not EQUIVALENT.exists():
        return set()
    text = EQUIVALENT.read_text()
    section = (
        text.split("## Equivalent", 1)[1].split("\n## ", 1)[0] if "## Equivalent" in text else ""
    )
    return set(re.findall(r"`(concept_geometry\.[^`]+__mutmut_\d+)`", section))


def tabulate(package: str) -> list[dict]:
    work = SCRATCH / package
    equivalent = equivalent_mutants()
    rows, survivors = [], []
    for meta in sorted((work / "mutants" / "src").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        checked = {k: v for k, v in codes.items() if v is not None}  # a --sample run
        if not checked:
            continue
        count = Counter(STATUS.get(v, "other") for v in checked.values())
        survived = [k for k, v in checked.items() if STATUS.get(v) == "survived"]
        equiv = sum(k in equivalent for k in survived)
        survivors += [k for k in survived if k not in equivalent]
        total = len(checked)
        module = str(meta.relative_to(work / "mutants" / "src"))[: -len(".meta")]
        rows.append(
            dict(
                module=module,
                total=total,
                killed=count["killed"],
                survived=count["survived"],
                timeout=count["timeout"],
                no_tests=count["no_tests"],
                other=count["other"],
                equivalent=equiv,
            )
        )
    if rows:
        rows.append(
            dict(module=f"{package} (all)", **{c: sum(r[c] for r in rows) for c in COLUMNS[:-1]})
        )
    for r in rows:
        denominator = r["total"] - r["equivalent"]
        r["score"] = f"{100 * r['killed'] / denominator:.1f}" if denominator else "n/a"
    tmp = SCRATCH / f".{package}.survivors.tmp"
    tmp.write_text("".join(f"{s}\n" for s in sorted(survivors)))
    tmp.replace(SCRATCH / f"{package}.survivors.txt")
    return rows


def write_table(package: str, rows: list[dict], elapsed: float | None) -> None:
    header = ("module",) + COLUMNS
    tsv = (
        "\t".join(header)
        + "\n"
        + "".join("\t".join(str(r[c]) for c in header) + "\n" for r in rows)
    )
    tmp = SCRATCH / f".{package}.tsv.tmp"
    tmp.write_text(tsv)
    tmp.replace(SCRATCH / f"{package}.tsv")
    print(f"\n{package}" + (f": {elapsed / 60:.1f} min" if elapsed is not None else ""))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in header) + " |")


def main() -> None:
    common, packages = settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", nargs="+", choices=sorted(packages), default=[])
    ap.add_argument("--all", action="store_true", help="every package in pyproject.toml")
    ap.add_argument("--max-children", type=int, default=1, help="cores to use (default 1)")
    ap.add_argument("--sample", type=int, help="run only this many randomly chosen mutants")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--retest",
        action="store_true",
        help="after adding tests or changing code: rerun only the mutants the last "
        "run did not kill (and those of changed functions); keep the rest",
    )
    ap.add_argument(
        "--tests-from",
        metavar="GIT_REF",
        help="use the tests/ of this commit (e.g. a baseline), not the working tree's",
    )
    ap.add_argument("--report-only", action="store_true", help="tabulate the last run only")
    args = ap.parse_args()
    chosen = sorted(packages) if args.all else args.package
    if not chosen:
        ap.error("name a --package (or --all)")
    SCRATCH.mkdir(exist_ok=True)
    for package in chosen:
        elapsed = None
        if not args.report_only:
            elapsed = run_package(
                package,
                common,
                packages[package],
                args.max_children,
                args.sample,
                args.seed,
                args.retest,
                args.tests_from,
            )
        write_table(package, tabulate(package), elapsed)


if __name__ == "__main__":
    main()
