"""`make bench`: runs every stage's benchmark in turn at its issue's size (pass --quick for small sizes).

Each benchmark prints its own figures and the ratio against the baseline it measures in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: benchmark script -> extra arguments for --quick runs
BENCHES: dict[str, list[str]] = {
    "emulate.py": ["--events", "100000"],
    "ingest.py": ["--events", "100000"],
    "search.py": ["--docs", "100000"],
    "kql.py": ["--rows", "1000000"],
    "kql_compile.py": ["--scale", "0.25", "--repeat", "1"],
    "kql_graph.py": ["--nodes", "500", "--repeat", "1"],
    "forward.py": ["--alerts", "1000", "--devices", "200", "--live-seconds", "40"],
    "detect.py": ["--rules", "10", "--days", "3", "--devices", "50"],
    "security.py": ["--docs", "5000", "--repeat", "50"],
    "ui.py": ["--devices", "10", "--days", "3", "--events-per-device-day", "2000", "--repeat", "3"],
    "cli.py": ["--repeat", "3"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("only", nargs="*", help="benchmarks to run (default: all), e.g. ingest search")
    args = ap.parse_args()
    failed = []
    for script, quick_args in BENCHES.items():
        if args.only and script.removesuffix(".py") not in args.only:
            continue
        cmd = [sys.executable, str(HERE / script), *(quick_args if args.quick else [])]
        print(f"\n=== {script} {' '.join(cmd[2:])}", flush=True)
        started = time.perf_counter()
        if subprocess.call(cmd) != 0:
            failed.append(script)
        print(f"=== {script}: {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
