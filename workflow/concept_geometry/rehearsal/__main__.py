"""``python -m concept_geometry.rehearsal build DIR [options]`` (see README.md, "Rehearsal")."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from .build import PARTS, build
from .sizes import ALL_GALAXY_LAYERS, TRUE, tiny


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m concept_geometry.rehearsal",
        description="Build offline, seeded checkpoints of the papers' shapes with random "
        "weights: Llama-2-7b (embed_tokens + lm_head), gemma-2-2b, Gemma Scope "
        "SAEs (16k at the lobes layer, 65k at the galaxy layers), a Pile-like "
        "corpus. Parts built before with the same sizes and seed are kept.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write a rehearsal into DIR")
    b.add_argument(
        "dir",
        help="build folder (config/rehearsal.yaml expects resources/rehearsal "
        "in the repository, or a symlink there)",
    )
    b.add_argument(
        "--scale",
        choices=["true", "tiny"],
        default="true",
        help="true: the papers' shapes (default); tiny: the test's",
    )
    b.add_argument(
        "--galaxy-layers",
        default=None,
        help="comma-separated 65k SAE layers, or 'all' for the 26 (~31 GB); default 0,12,25",
    )
    b.add_argument("--n-documents", type=int, default=None, help="corpus documents")
    b.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true", help="rebuild parts even if kept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = TRUE if args.scale == "true" else tiny()
    changes = {}
    if args.galaxy_layers:
        changes["galaxy_layers"] = (
            ALL_GALAXY_LAYERS
            if args.galaxy_layers == "all"
            else tuple(int(x) for x in args.galaxy_layers.split(","))
        )
    if args.n_documents is not None:
        changes["n_documents"] = args.n_documents
    sizes = dataclasses.replace(sizes, **changes)
    summary = build(args.dir, sizes, seed=args.seed, parts=args.parts.split(","), force=args.force)
    print(json.dumps(summary["layout"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
