# Stage: report (see workflow/concept_geometry/report/).
# One final rule joins every reported stage's results/summary/<stage>.tsv with the papers'
# numbers (config/paper_values.tsv) into results/summary.tsv, plus an HTML view of it that
# the Snakemake report (`snakemake --report results/report.html`) shows under "Summary".


rule summary:
    input:
        tables=expand("results/summary/{stage}.tsv", stage=report_stages()),
        paper_values=repo_path(config["report"]["paper_values"]),
    output:
        summary=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary.tsv (download)"},
        ),
        html=report(
            "results/report/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "reproduced vs paper values"},
        ),
    log:
        log_path("report", "summary"),
    benchmark:
        bench_path("report", "summary")
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        stages=report_stages(),
        cfg=lambda wc: config["report"],
    script:
        "../scripts/summary.py"
