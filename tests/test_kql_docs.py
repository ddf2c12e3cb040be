"""The Kusto documentation's own examples (../shared/corpus/kqldocs) run in process, compared as the checker does.

The comparison rules are ../shared/tools/kqldocs_check.py's own `check` (loaded with importlib, never
copied). Cases flagged nondeterministic/truncated/multi_table/sandbox are skipped as the checker skips
them by default. Expected failures live in ONE file, tests/kqldocs_expected_failures.txt (`id<TAB>reason`);
the test fails when a listed case passes (the list only shrinks) or an unlisted case fails.

Regenerate the list after a change (keeps the reasons of cases still failing, adds `fails: <why>` for new
ones, drops the passing ones): `KQLDOCS_REGENERATE=1 .venv/bin/python -m pytest tests/test_kql_docs.py`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from huntvault.kql import execute
from huntvault.kql.backends import DuckDBBackend
from tests.support.kql import NOW

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CASES = SHARED / "corpus" / "kqldocs" / "cases.jsonl"
CHECKER = SHARED / "tools" / "kqldocs_check.py"
EXPECTED_FAILURES = Path(__file__).resolve().parent / "kqldocs_expected_failures.txt"
SKIP_FLAGS = {"nondeterministic", "truncated", "multi_table", "sandbox"}
#: graph functions' pages are outside the issue's "core" (they are still run and listed)
GRAPH_FUNCTION_PAGE = re.compile(r"/(node-degree-[a-z]+|[a-z-]+-graph-function|inner-nodes-function)\.md#")


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kqldocs_check", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_expected_failures(path: Path = EXPECTED_FAILURES) -> dict[str, str]:
    """`id<TAB>reason` lines; `#` comments and blank lines are ignored."""
    listed: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        case_id, _, reason = line.partition("\t")
        listed[case_id.strip()] = reason.strip()
    return listed


def run_cases(cases: list[dict[str, Any]], check: Callable[..., str | None]) -> dict[str, str | None]:
    """Each case's failure reason (None when it gives the documented output)."""
    backend = DuckDBBackend(None)
    outcome: dict[str, str | None] = {}
    for case in cases:
        try:
            result = execute(case["query"], backend=backend, now=NOW, timeout=20)
            rows = json.loads(json.dumps(result.rows(), default=str))
            outcome[case["id"]] = check(case, result.table.column_names, rows)
        except Exception as exc:
            outcome[case["id"]] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return outcome


def _owner(case: dict[str, Any]) -> str:
    """Whose a new failure most likely is, from the page: geo, scalar/aggregate functions, or the rest."""
    page = case["page"].rsplit("/", 1)[-1]
    if page.startswith("geo") or "geospatial" in page:
        return "geo"
    if case.get("category") in ("function", "aggregation") and not GRAPH_FUNCTION_PAGE.search(case["id"]):
        return "fn"
    return "sem"


def _write_list(
    outcome: dict[str, str | None], previous: dict[str, str], cases: list[dict[str, Any]]
) -> None:
    header = (
        "# kqldocs cases expected to fail (tests/test_kql_docs.py): id<TAB>reason.\n"
        "# Regenerate: KQLDOCS_REGENERATE=1 .venv/bin/python -m pytest tests/test_kql_docs.py\n"
        "# Reasons say whose the failure is: [fn] a missing/wrong scalar function or aggregate, [geo] geo,\n"
        "# [doc] the documented output cannot be produced (a typo or an error in the page), [sem] the engine's\n"
        "# semantics/operators/plugins. A new failure gets `[owner by page] fails: <why>`; a reason written by\n"
        "# hand is kept while the case still fails; a generated one (`[x] fails: ...`) is refreshed.\n"
    )
    lines = []
    owners = {c["id"]: _owner(c) for c in cases}
    for case_id, why in outcome.items():
        if why is None:
            continue
        kept = previous.get(case_id, "")
        generated = re.match(r"\[\w+\] fails: ", kept) is not None  # a generated reason is refreshed
        reason = (not generated and kept) or f"[{owners[case_id]}] fails: {' '.join(why.split())[:200]}"
        lines.append(f"{case_id}\t{reason}")
    EXPECTED_FAILURES.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.skipif(not CASES.exists() or not CHECKER.exists(), reason="../shared/corpus/kqldocs is absent")
def test_kqldocs_cases_give_the_documented_output(capsys: pytest.CaptureFixture[str]) -> None:
    chk = _checker()
    cases = [json.loads(ln) for ln in CASES.read_text(encoding="utf-8").splitlines() if ln.strip()]
    cases = [c for c in cases if not SKIP_FLAGS & set(c.get("flags", []))]
    outcome = run_cases(cases, chk.check)
    previous = load_expected_failures() if EXPECTED_FAILURES.exists() else {}
    if os.environ.get("KQLDOCS_REGENERATE"):
        _write_list(outcome, previous, cases)
    passed = sum(1 for why in outcome.values() if why is None)
    core = [c["id"] for c in cases if not GRAPH_FUNCTION_PAGE.search(c["id"])]
    core_passed = sum(1 for i in core if outcome[i] is None)
    with capsys.disabled():  # the pass rate shows in a plain run (xdist workers keep their output)
        print(
            f"\nkqldocs: {passed}/{len(outcome)} = {100 * passed / len(outcome):.1f}% give the documented output"
            f" (core {core_passed}/{len(core)} = {100 * core_passed / len(core):.1f}%)",
            file=sys.stderr,
        )
    listed = load_expected_failures()
    unknown = sorted(set(listed) - set(outcome))
    now_passing = sorted(i for i in listed if i in outcome and outcome[i] is None)
    new_failures = sorted(f"{i}: {why}" for i, why in outcome.items() if why is not None and i not in listed)
    assert not unknown, f"listed in {EXPECTED_FAILURES.name} but not a runnable case: {unknown}"
    assert not now_passing, f"now pass: remove them from {EXPECTED_FAILURES.name}: {now_passing}"
    assert not new_failures, "fail but are not listed:\n" + "\n".join(new_failures)


def test_expected_failures_file_has_a_reason_for_each_case() -> None:
    listed = load_expected_failures()
    assert all(reason for reason in listed.values()), [i for i, r in listed.items() if not r]
    assert all(i.startswith("data-explorer/") and "#" in i for i in listed), "ids are kqldocs case ids"


def test_docs_support_table_matches_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("kql_support", ROOT / "scripts" / "kql_support.py")
    assert spec is not None and spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)
    page = (ROOT / "docs" / "kql.md").read_text(encoding="utf-8")
    assert support.page_with(page, support.table()) == page, (
        "run: .venv/bin/python scripts/kql_support.py --write"
    )
