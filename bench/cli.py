"""CLI start-up benchmark: CPU time (user + sys) of `huntvault hunt 'print 1'`, `status` and `search` as ratios
against `python -c pass`, all measured in the same run.

Each command runs in a child process over a small emulated archive (emulate -> ingest -> index, built first,
as `make demo` leaves it) and is timed with `resource.getrusage(RUSAGE_CHILDREN)`: CPU time, not wall time,
so a busy machine inflates it less. Each command runs --repeat times after one warm-up; the minimum and the
median are printed. The children get the environment of a user's shell: PYTHONDONTWRITEBYTECODE is dropped
so Python's bytecode cache works as it does outside this sandbox (`--keep-env` keeps it, to see the cost).

    .venv/bin/python bench/cli.py                # target: hunt 'print 1' under 0.5 s of CPU
    .venv/bin/python bench/cli.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_HUNT_CPU = 0.5  # seconds, issue #19


def cpu_of(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU seconds (user + sys) one run of `cmd` took, its children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode(errors='replace')}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def build_archive(root: Path, env: dict[str, str]) -> Path:
    """A small archive with its indexes and a huntvault.toml pointing at them; returns the config."""
    config = root / "huntvault.toml"
    config.write_text(
        f'[archive]\npath = "{root / "archive"}"\n\n[index]\npath = "{root / "index"}"\n', encoding="utf-8"
    )
    hv = [sys.executable, "-m", "huntvault.cli", "--config", str(config)]
    steps = [
        [*hv, "emulate", "export", "--to", str(root / "export"), "--devices", "4", "--days", "1"],
        [*hv, "ingest", "--from", str(root / "export"), "--quiet"],
        [*hv, "index"],
    ]
    for cmd in steps:
        subprocess.run(cmd, env=env, cwd=root, check=True, stdout=subprocess.DEVNULL)
    return config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed runs per command (after one warm-up)")
    ap.add_argument("--keep-env", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if it is set")
    args = ap.parse_args()
    env = dict(os.environ)
    if not args.keep_env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = Path(tempfile.mkdtemp(prefix="hv-bench-cli-"))
    try:
        config = build_archive(root, env)
        exe = Path(sys.executable).with_name("huntvault")
        hv = [str(exe)] if exe.is_file() else [sys.executable, "-m", "huntvault.cli"]
        hv += ["--config", str(config), "--no-progress"]
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "huntvault hunt 'print 1'": [*hv, "hunt", "print 1"],
            "huntvault status": [*hv, "status"],
            "huntvault search": [*hv, "search", "search=powershell&$top=5"],
        }
        results: dict[str, tuple[float, float]] = {}
        for name, cmd in commands.items():
            cpu_of(cmd, env, root)  # warm-up: bytecode cache, page cache
            runs = [cpu_of(cmd, env, root) for _ in range(args.repeat)]
            results[name] = (min(runs), statistics.median(runs))
        base_med = results["python -c pass"][1]
        print(f"CPU seconds (user+sys), {args.repeat} runs each; ratio = median / median of `python -c pass`")
        print(f"  {'command':<28} {'min':>7} {'median':>7} {'ratio':>7}")
        for name, (lo, med) in results.items():
            print(f"  {name:<28} {lo:7.3f} {med:7.3f} {med / base_med if base_med else float('nan'):7.1f}x")
        hunt = results["huntvault hunt 'print 1'"][1]
        verdict = "meets" if hunt < TARGET_HUNT_CPU else "MISSES"
        print(f"hunt 'print 1': {hunt:.3f} s CPU (median) {verdict} the {TARGET_HUNT_CPU} s target")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
