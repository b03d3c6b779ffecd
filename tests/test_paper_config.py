"""`config/paper.yaml` plans the papers' runs (issues 3-7): the right models, SAEs, layers and
job fan-out, by a dry run of the real workflow; offline, the features stage fails fast
saying how to give local paths."""

from __future__ import annotations

import re
import time

import pytest
import yaml
from conftest import ROOT, run_snakemake

pytestmark = pytest.mark.workflow


def _job_counts(stdout: str) -> dict[str, int]:
    block = stdout[stdout.index("Job stats:") :]
    counts = {}
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def paper_plan(tmp_path_factory):
    work = tmp_path_factory.mktemp("paper")
    proc = run_snakemake(work, ROOT / "config" / "paper.yaml", "-n")
    return proc.stdout


def test_paper_plan_fans_out_per_layer_and_measure(paper_plan):
    counts = _job_counts(paper_plan)
    assert counts["galaxy_layer"] == 26  # Li et al.: Gemma Scope 65k, all 26 layers
    assert counts["crystals_differences"] == 2  # layers 0 (embedding) and 12
    assert counts["lobes_tests"] == 5  # five co-occurrence measures
    assert counts["lobes_explorer"] == 1  # one interactive page for the lobes' layer 12
    assert counts["galaxy_explorer"] == 1  # one galaxy page with all 26 layers
    assert counts["crystals_explorer"] == 2  # one page per crystals layer (0 and 12)
    assert counts["simulate"] == 4 * 5  # 4 experiments x 5 seeds
    assert counts["features_extract"] == 1 and counts["features_cooccurrence"] == 1
    # The galaxy's 26 decoders + the lobes' layer-12 SAE are fetched, none trained here.
    assert counts["sae_decoder"] == 27
    assert "sae_sample_activations" not in counts and "alignment_train_toy" not in counts


def test_paper_plan_names_the_papers_models_layers_and_corpus(paper_plan):
    galaxy = set(re.findall(r"results/galaxy/gemma-2-2b/layer_(\d+)/galaxy\.tsv", paper_plan))
    assert galaxy == {str(layer) for layer in range(26)}
    crystals = set(re.findall(r"results/crystals/gemma-2-2b/layer_(\w+)/quality\.tsv", paper_plan))
    assert crystals == {"0", "12"}  # hidden_states[0] and [12], as the paper code
    assert "results/features/gemma-2-2b/pile-50k/layer_12/cooccurrence.npz" in paper_plan
    assert "results/lobes/gemma-2-2b/pile-50k/layer_12/tests.tsv" in paper_plan
    assert "results/alignment/llama-2-7b/alignment.tsv" in paper_plan
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert paper["features"]["sae"] == {
        "source": "pretrained",
        "release": "gemma-scope-2b-pt-res",
        "sae_id": "layer_{layer}/width_16k/average_l0_41",
    }
    assert paper["galaxy"]["sae"]["release"] == "gemma-scope-2b-pt-res-canonical"
    assert paper["galaxy"]["sae"]["sae_id"] == "layer_{layer}/width_65k/canonical"
    assert paper["features"]["corpus"]["dataset"] == "monology/pile-uncopyrighted"


def test_paper_features_fail_fast_offline_with_local_path_instructions(tmp_path):
    """Without the hub, the Pile, gemma-2-2b and the Gemma Scope SAEs cannot be had: the run
    stops within a minute or two, each failing job saying which key to point at a local copy."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg = {"stages": ["features"], "features": paper["features"]}
    (tmp_path / "paper_features.yaml").write_text(yaml.safe_dump(cfg))
    start = time.time()
    proc = run_snakemake(
        tmp_path, tmp_path / "paper_features.yaml", "--keep-going", check=False, timeout=600
    )
    assert proc.returncode != 0
    assert time.time() - start < 240
    logs = {p.name: p.read_text() for p in (tmp_path / "logs").rglob("*.log")}
    corpus = next(t for n, t in logs.items() if n.startswith("corpus_build"))
    assert "features.corpus" in corpus and "local" in corpus
    sae = next(t for n, t in logs.items() if n.startswith("sae_materialise"))
    assert "gemma-scope-2b-pt-res" in sae and "features.sae" in sae and "source: local" in sae
    for text in (corpus, sae):
        assert "Traceback" not in text
    assert not list((tmp_path / "results").rglob("firings.npz"))


def _requests(stdout: str):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from rehearsal_cost import parse_requests

    return parse_requests(stdout)


def test_parse_requests_reads_a_dry_run_listing():
    """Hand-written excerpt in the format `snakemake -n` prints (Snakemake 9)."""
    text = (
        "rule galaxy_layer:\n"
        "    input: a\n"
        "    benchmark: results/benchmarks/galaxy/layer_gemma-2-2b_12.tsv\n"
        "    threads: 8\n"
        "    resources: tmpdir=/tmp, runtime=60, mem_mb=16000, mem=16 GB, mem_mib=15259\n"
        "\n"
        "localrule summary:\n"
        "    resources: tmpdir=/tmp, runtime=5, mem_mb=1000\n"
        "rule features_extract:\n"
        "    benchmark: results/benchmarks/features/extract_m_c.tsv\n"
        "    resources: tmpdir=/tmp, runtime=720, gpu=1, mem_mb=48000\n"
    )
    got = _requests(text).set_index("job")
    assert list(got.index) == ["galaxy/layer_gemma-2-2b_12", "features/extract_m_c"]
    assert got.loc["galaxy/layer_gemma-2-2b_12"].tolist() == ["galaxy_layer", 8, 16000, 60, 0]
    assert got.loc["features/extract_m_c"].tolist() == ["features_extract", 1, 48000, 720, 1]


def test_sae_materialise_asks_for_a_gpu_only_to_train(paper_plan, tmp_path):
    """Gemma Scope SAEs (paper preset: pretrained) are converted on the CPU in 2.3 GiB at 65k
    (README "Rehearsal cost"): no GPU, 4 GB. The default config trains its SAEs: 1 GPU, 32 GB."""
    paper = _requests(paper_plan)
    sae = paper[paper.rule == "sae_materialise"]
    assert len(sae) == 1 and set(sae.gpu) == {0} and set(sae.mem_mb) == {4000}  # 16k, layer 12
    default = _requests(run_snakemake(tmp_path, ROOT / "config" / "config.yaml", "-n").stdout)
    trained = default[default.rule == "sae_materialise"]
    assert len(trained) and set(trained.gpu) == {1} and set(trained.mem_mb) == {32000}


def test_paper_requests_cover_the_rehearsals_measured_needs(paper_plan):
    """benchmarks/rehearsal_needs.tsv holds, per rule, the memory a paper-run job needs, from
    the rehearsal at the true shapes (README "Rehearsal cost"): every job of that rule in
    the paper plan must request at least that much on its first attempt."""
    import pandas as pd

    needs = pd.read_csv(ROOT / "benchmarks/rehearsal_needs.tsv", sep="\t")
    assert (needs.need_mb >= needs.measured_peak_mib * 2**20 / 1e6 * 0.99).all()
    plan = _requests(paper_plan)
    for row in needs.itertuples():
        jobs = plan[plan.rule == row.rule]
        assert len(jobs), row.rule
        assert (jobs.mem_mb >= row.need_mb).all(), (row.rule, jobs.mem_mb.tolist(), row.need_mb)
