"""Counts what the KQL engine supports, per family, from its registry against Kusto's reference names.

`python scripts/kql_support.py` prints the table; `--write` puts it into docs/kql.md between the
`kql-support` markers; tests/test_kql_docs.py fails when the page and the registry disagree, so the counts
cannot drift. The reference names are scripts/kql_reference.txt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault.kql import registry  # noqa: E402
from huntvault.kql.operators.composition import OFFLINE_PLUGINS  # noqa: E402
from huntvault.kql.syntax.expressions import SOURCES  # noqa: E402

REFERENCE = ROOT / "scripts" / "kql_reference.txt"
DOC = ROOT / "docs" / "kql.md"
START = "<!-- kql-support:start (scripts/kql_support.py --write) -->"
END = "<!-- kql-support:end -->"


def reference() -> list[tuple[str, str, list[str]]]:
    """(kind, family, names) rows of the reference file."""
    rows = []
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, rest = line.partition("|")
        family, _, names = rest.partition(":")
        rows.append((kind.strip(), family.strip(), names.split()))
    return rows


def supported(kind: str) -> set[str]:
    """The names the registry answers to for one kind of reference entry."""
    if kind == "function":
        return set(registry.FUNCTIONS) | set(registry.SPECIALS) | set(registry.GRAPH_FUNCTIONS)
    if kind == "aggregate":
        return set(registry.AGGREGATES)
    if kind == "operator":
        return set(registry.PIPE_PARSERS) | set(SOURCES)
    return set(registry.PLUGINS)


def table() -> str:
    lines = [
        "| kind | family | huntvault | Kusto's reference | missing |",
        "|---|---|---|---|---|",
    ]
    totals: dict[str, list[int]] = {}
    for kind, family, names in reference():
        have = supported(kind)
        ours = [n for n in names if n.lower() in have]
        missing = [n for n in names if n.lower() not in have and n.lower() not in OFFLINE_PLUGINS]
        total = totals.setdefault(kind, [0, 0])
        total[0] += len(ours)
        total[1] += len(names)
        shown = ", ".join(missing[:12]) + (f" (+{len(missing) - 12})" if len(missing) > 12 else "")
        lines.append(f"| {kind} | {family} | {len(ours)} | {len(names)} | {shown} |")
    for kind, (ours_n, all_n) in totals.items():
        lines.append(f"| **{kind}s** | all | **{ours_n}** | **{all_n}** | |")
    offline = ", ".join(sorted(registry.OFFLINE))
    lines.append("")
    lines.append(
        f"Registry sizes: {len(registry.FUNCTIONS)} scalar function names, {len(registry.AGGREGATES)} aggregates, "
        f"{len(registry.PLUGINS)} plugins, {len(registry.PIPE_PARSERS)} pipe operator words (legacy aliases "
        f"included); Defender built-ins that fail by name offline: {offline}; plugins that need a service and "
        f"fail by name offline (counted as not supported, not listed as missing): {', '.join(sorted(OFFLINE_PLUGINS))}."
    )
    return "\n".join(lines)


def page_with(text: str, block: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="rewrite the block in docs/kql.md")
    args = ap.parse_args()
    block = table()
    if args.write:
        DOC.write_text(page_with(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
