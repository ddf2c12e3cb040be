"""CLI start-up benchmark: CPU time (user + sys) of `huntvault hunt 'print 1'`, `status` and `search` as ratios
against `python -c pass`, all measured in the same run.

Each command runs in a child process over a small emulated archive (emulate -> ingest -> index, built first,
as `make demo` leaves it) and is timed with `resource.getrusage(RUSAGE_CHILDREN)`: CPU time, not wall time,
so a busy machine inflates it less. Each command runs --repeat times after one warm-up; the minimum and the
median are printed. The children get the environment of a user's shell: PYTHONDONTWRITEBYTECODE is dropped
so Python's bytecode cache works as it does outside this sandbox (`--keep-env` keeps it, to see the cost).

    .venv/bin/python bench/cli.py                # target: hunt 'print 1' under 0.5 s of CPU
    .venv/bin/python bench/cli.py --repeat 5
    git archive OLD src | tar -x -C /tmp/old && .venv/bin/python bench/cli.py --compare-src /tmp/old/src

`--compare-src DIR` also times the same commands with another checkout's `src` (e.g. before a change),
interleaved with this one's, and prints their ratio.
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


FAILURES: dict[str, str] = {}  # command -> the last failure's stderr (a crash at exit still costs its CPU)


def cpu_of(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU seconds (user + sys) one run of `cmd` took, its children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        FAILURES[" ".join(cmd)] = (
            f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip()[-300:]}"
        )
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


def commands_for(config: Path, src: Path | None) -> dict[str, list[str]]:
    """The timed commands; with `src`, `huntvault` runs from that source tree instead of this install."""
    if src is None:
        exe = Path(sys.executable).with_name("huntvault")
        hv = [str(exe)] if exe.is_file() else [sys.executable, "-m", "huntvault.cli"]
    else:
        hv = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(src)!r}); from huntvault.cli import main; main()",
        ]
    hv += ["--config", str(config)]
    return {
        "huntvault hunt 'print 1'": [*hv, "hunt", "print 1"],
        "huntvault status": [*hv, "status"],
        "huntvault search": [*hv, "search", "search=powershell&$top=5"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed runs per command (after one warm-up)")
    ap.add_argument("--keep-env", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if it is set")
    ap.add_argument("--compare-src", type=Path, default=None, help="another checkout's src/ to time too")
    args = ap.parse_args()
    env = dict(os.environ)
    if not args.keep_env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = Path(tempfile.mkdtemp(prefix="hv-bench-cli-"))
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")  # bytecode of either tree goes here, not into it
    try:
        config = build_archive(root, env)
        variants: dict[str, dict[str, list[str]]] = {"": commands_for(config, None)}
        if args.compare_src is not None:
            variants["compared "] = commands_for(config, args.compare_src.resolve())
        commands: dict[str, list[str]] = {"python -c pass": [sys.executable, "-c", "pass"]}
        for tag, cmds in variants.items():
            commands.update({tag + name: cmd for name, cmd in cmds.items()})
        for cmd in commands.values():
            cpu_of(cmd, env, root)  # warm-up: bytecode cache, page cache
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved, so both trees see the same machine load
            for name, cmd in commands.items():
                runs[name].append(cpu_of(cmd, env, root))
        results = {name: (min(r), statistics.median(r)) for name, r in runs.items()}
        base_med = results["python -c pass"][1]
        print(f"CPU seconds (user+sys), {args.repeat} runs each; ratio = median / median of `python -c pass`")
        print(f"  {'command':<37} {'min':>7} {'median':>7} {'ratio':>7}")
        for name, (lo, med) in results.items():
            print(f"  {name:<37} {lo:7.3f} {med:7.3f} {med / base_med if base_med else float('nan'):7.1f}x")
        if args.compare_src is not None:
            for name in variants[""]:
                ours, theirs = results[name][1], results["compared " + name][1]
                print(f"  {name}: {ours / theirs:.2f}x the CPU of {args.compare_src}")
        for cmd, why in FAILURES.items():
            print(f"  note: {cmd} failed at least once ({why})")
        hunt = results["huntvault hunt 'print 1'"][1]
        verdict = "meets" if hunt < TARGET_HUNT_CPU else "MISSES"
        print(f"hunt 'print 1': {hunt:.3f} s CPU (median) {verdict} the {TARGET_HUNT_CPU} s target")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
