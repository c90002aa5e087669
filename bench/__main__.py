"""Runs syncdrop's benchmarks, each in a fresh process; prints every figure beside its baseline."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, machine, table

BENCHES = {
    "intake": "bench.intake",
    "memory": "bench.memory",
    "cold_start": "bench.cold_start",
    "requests": "bench.request_counts",
    "webhook": "bench.webhook",
    "pipeline": "bench.pipeline",
    "demo": "bench.demo_pipeline",
    "validate": "bench.validate_startup",
}


def run_one(name: str, workdir: Path, out: Path) -> None:
    """In the child: run one benchmark and write its figures as JSON."""
    module = importlib.import_module(BENCHES[name])
    figures: list[Figure] = module.run(workdir)
    out.write_text(json.dumps([f.as_dict() for f in figures]))


def run_in_child(name: str, workdir: Path) -> tuple[list[Figure], str]:
    """One benchmark in its own process (its logs kept out of the table); the figures, or
    the end of its output when it failed."""
    out = workdir / f"{name}.json"
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--one",
            name,
            "--workdir",
            str(workdir),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if answer.returncode != 0 or not out.exists():
        return [], (answer.stdout + answer.stderr)[-4000:]
    fields = Figure.__dataclass_fields__
    return [
        Figure(**{k: v for k, v in item.items() if k in fields})
        for item in json.loads(out.read_text())
    ], ""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.workdir, args.out)
        return 0
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(BENCHES)}")

    about = machine()
    print(f"syncdrop bench: {about['nproc']} CPUs, {about['cpu']}, Python {about['python']}")
    print(f"command: {' '.join(['python -m bench', *sys.argv[1:]])}\n")
    everything: list[Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="syncdrop-bench-") as scratch:
        for name in args.names or BENCHES:
            started = time.perf_counter()
            figures, output = run_in_child(name, Path(scratch))
            seconds = time.perf_counter() - started
            if not figures:
                failed.append(name)
                print(f"{name}: FAILED after {seconds:.0f} s\n{output}\n", flush=True)
                continue
            everything.extend(figures)
            print(f"{table(figures)}\n({name}: {seconds:.0f} s)\n", flush=True)
    missed = [f.label.strip() for f in everything if f.met is False]
    if args.json:
        args.json.write_text(
            json.dumps({"machine": about, "figures": [f.as_dict() for f in everything]}, indent=1)
        )
    if missed or failed:
        print("targets missed: " + "; ".join(missed + [f"{n} (did not run)" for n in failed]))
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
