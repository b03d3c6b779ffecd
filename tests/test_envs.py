"""Software environments: every rule declares a conda env that exists, and every pin in
envs/*.yaml agrees with pyproject.toml's exact pins (one source of truth for versions)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "workflow/rules").glob("*.smk"))
ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))
ACTIONS = ("script:", "shell:", "run:", "notebook:", "wrapper:", "cwl:")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_rules(path: Path) -> dict[str, list[str]]:
    """rule/checkpoint name -> its body lines (blocks end at the next unindented line)."""
    rules: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"(?:rule|checkpoint)\s+(\w+)\s*:", line)
        if m:
            current = m.group(1)
            rules[current] = []
        elif line and not line[0].isspace() and not line.startswith("#"):
            current = None
        elif current is not None:
            rules[current].append(line)
    return rules


def conda_env(body: list[str]) -> str | None:
    """The path after `conda:` (same line or the next non-empty one), else None."""
    for i, line in enumerate(body):
        s = line.strip()
        if s.startswith("conda:"):
            rest = s[len("conda:") :].strip() or next(
                (b.strip() for b in body[i + 1 :] if b.strip()), ""
            )
            m = re.match(r"""['"]([^'"]+)['"]""", rest)
            return m.group(1) if m else rest
    return None


def pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs.extend(extra)
    pins = {}
    for req in reqs:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*", req)
        assert m, f"pyproject.toml: {req!r} is not an exact pin (name==version)"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def env_pins(path: Path) -> tuple[dict[str, str], list]:
    data = yaml.safe_load(path.read_text())
    pins, conda = {}, []
    for dep in data["dependencies"]:
        if isinstance(dep, dict):
            for req in dep.get("pip", []):
                if req.startswith("-"):  # pip options, e.g. --extra-index-url
                    continue
                m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", req.strip())
                assert m, f"{path.name}: pip requirement {req!r} is not pinned with =="
                pins[_norm(m.group(1))] = m.group(2)
        else:
            conda.append(dep)
    return pins, conda


def test_rule_files_parse():
    names = [n for f in RULE_FILES for n in parse_rules(f)]
    assert len(names) == len(set(names)), "duplicate rule names across .smk files"


def test_every_rule_declares_an_existing_env():
    problems = []
    for path in RULE_FILES:
        for name, body in parse_rules(path).items():
            if not any(line.strip().startswith(ACTIONS) for line in body):
                continue  # e.g. a pure target rule
            env = conda_env(body)
            if env is None:
                problems.append(f"{path.name}: rule {name} has no conda: env")
                continue
            target = (path.parent / env).resolve()
            if target.parent != (ROOT / "envs").resolve() or not target.is_file():
                problems.append(f"{path.name}: rule {name} uses {env}, not a file in envs/")
    assert not problems, "\n".join(problems)


def test_parsed_rules_are_all_rules():
    """The text parse sees every rule Snakemake sees (so no rule escapes the env check)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"snakemake --list-rules failed:\n{proc.stderr[-3000:]}")
    listed = {line.strip() for line in proc.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}
    parsed = {n for f in RULE_FILES for n in parse_rules(f)} | {"all"}
    assert listed - parsed == set(), f"rules not found in workflow/rules/*.smk: {listed - parsed}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(path):
    pins, conda = env_pins(path)
    reference = pyproject_pins()
    assert pins, f"{path.name} pins nothing"
    for name, version in pins.items():
        assert name in reference, f"{path.name}: {name} is not pinned in pyproject.toml"
        # a local label (torch 2.13.0+cpu) satisfies pyproject's ==2.13.0 (PEP 440)
        assert version.split("+")[0] == reference[name], (
            f"{path.name}: {name}=={version} but pyproject.toml pins {reference[name]}"
        )
    python = [d for d in conda if str(d).startswith("python")]
    assert python == ["python=3.11"], f"{path.name}: python must be pinned to 3.11 ({python})"
    assert all(str(d) in {"python=3.11", "pip"} for d in conda), (
        f"{path.name}: conda packages other than python/pip ({conda}) escape the pin check"
    )


def test_cpu_envs_do_not_pull_cuda_torch():
    """torch in a CPU-only env comes from PyTorch's CPU index; the GPU env (models) is the
    only one allowed the default (CUDA) wheel."""
    for path in ENV_FILES:
        data = yaml.safe_load(path.read_text())
        pip = next((d["pip"] for d in data["dependencies"] if isinstance(d, dict)), [])
        torch = [r for r in pip if _norm(r).startswith("torch==")]
        if not torch or path.name == "models.yaml":
            continue
        assert torch[0].endswith("+cpu"), f"{path.name}: {torch[0]} would pull a CUDA build"
        assert any("download.pytorch.org/whl/cpu" in r for r in pip if r.startswith("-")), path.name


def test_every_env_is_used():
    """Each env file is some rule group's env (no stale env files)."""
    used = {
        Path(u).name
        for f in RULE_FILES
        for body in parse_rules(f).values()
        if (u := conda_env(body))
    }
    unused = {p.name for p in ENV_FILES} - used
    assert not unused, f"env files no rule uses: {sorted(unused)}"


# --- the SLURM profile ----------------------------------------------------------------------

# Rules that run a model forward pass or train an SAE: the only ones that ask for a GPU.
GPU_RULES = {
    "alignment_train_toy",
    "sae_sample_activations",
    "sae_materialise",
    "features_extract",
    "crystals_differences",
}


def _resources(body: list[str]) -> dict[str, str]:
    """A rule's `resources:` entries (name -> the text after `=`)."""
    out, inside = {}, False
    for line in body:
        if line.strip() == "resources:":
            inside = True
        elif inside and line.startswith(" " * 8):
            if not line.strip().startswith("#"):
                key, _, value = line.strip().partition("=")
                out[key] = value.split("  #")[0].rstrip(",")
        elif line.strip():
            inside = False
    return out


def test_resources_live_in_the_rules_gpus_only_in_model_rules():
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    assert "set-resources" not in profile  # one place: the rules' own `resources:`
    rules = {
        n: _resources(body)
        for f in RULE_FILES
        for n, body in parse_rules(f).items()
        if any(line.strip().startswith(ACTIONS) for line in body)
    }
    assert {r for r, res in rules.items() if "gpu" in res} == GPU_RULES
    # sae_materialise asks for its GPU only when it trains (test_paper_config checks both cases)
    assert all(rules[r]["gpu"] == "1" for r in GPU_RULES - {"sae_materialise"})
    assert rules["sae_materialise"]["gpu"] == "lambda wc: int(_sae_trained(wc))"
    for rule, res in rules.items():
        for key in ("mem_mb", "runtime"):  # a retried job asks for more
            assert key in res, (rule, key)
            assert re.fullmatch(r"scaled\(.+\)", res[key]), (rule, key, res[key])
    for key in ("mem_mb", "runtime"):
        assert re.fullmatch(r"\d+ \* attempt", str(profile["default-resources"][key]))
