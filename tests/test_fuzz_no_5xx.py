"""No 5xx anywhere: 5,000+ seeded random requests over search parameters, $filter, facets, Lucene, simple
and KQL (ASCII and non-ASCII), in process through the real ASGI stack; every answer must be below 500."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from huntvault.archive import Archive, Batch
from huntvault.config import Config
from huntvault.web import create_app
from huntvault.web.hunt_api import load_samples
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, crafted_table

pytestmark = pytest.mark.slow
SEED = 18
COUNTS = {"search_get": 1200, "search_post": 1300, "filter": 800, "facet": 500, "kql": 1200}
RAISE = bool(os.environ.get("HUNTVAULT_FUZZ_RAISE"))
SCALE = float(os.environ.get("HUNTVAULT_FUZZ_SCALE", "1"))  # a quicker look while debugging; CI runs 1

WORDS = [
    "wifi",
    "hotel",
    "mimikatz",
    "powershell",
    "O'Brien",
    "x",
    "3352CDD0",
    "motel",
    "é",
    "日本",
    "😀",
    "Ω",
]
FIELDS = [
    "properties/FileName",
    "properties/ProcessCommandLine",
    "properties/DeviceName",
    "properties/FileSize",
    "properties/Timestamp",
    "properties/ProcessId",
    "properties/AccountName",
    "nope",
    "properties",
    "",
]
LUCENE_BITS = [
    "(",
    ")",
    '"',
    "~",
    "~2",
    "^",
    "^3",
    "*",
    "?",
    "/",
    "/.*/",
    ":",
    "AND",
    "OR",
    "NOT",
    "&&",
    "||",
    "!",
    "+",
    "-",
    "\\",
    "[",
    "]",
    "{",
    "}",
    "~1e20",
    "^1e400",
    "/(.*a){9}/",
    "a*b*",
    "~0.5",
]
NUMBERS = [
    "0",
    "1",
    "-1",
    "50",
    "1000",
    "1001",
    "100000",
    "100001",
    "1e20",
    "1e300",
    "nan",
    "inf",
    "-inf",
    "2.5",
    "",
    " ",
    "0x10",
    "٣",
    "²",
    "99999999999999999999999",
    "1e-300",
    "+5",
    "true",
    "null",
]
FILTER_BITS = [
    "(",
    ")",
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "gt",
    "lt",
    "ge",
    "le",
    "null",
    "true",
    "false",
    "'a'",
    "'O''Brien'",
    "'",
    "1",
    "1.5",
    "1e400",
    "-1e400",
    "INF",
    "NaN",
    "2026-07-20T08:00:00Z",
    "2026-13-45T99:99:99Z",
    "search.in(",
    "search.ismatch(",
    "search.ismatchscoring(",
    "search.score()",
    "geo.distance(",
    "any(",
    "all(",
    "r:",
    ",",
    "/any(",
    "properties/FileSize",
    "properties/FileName",
    "properties/Timestamp",
    "properties/Flag",
    "ÄÖ",
    "'日本'",
]
KQL_BITS = [
    "DeviceProcessEvents",
    "|",
    "where",
    "project",
    "extend",
    "summarize",
    "count()",
    "by",
    "take",
    "10",
    "==",
    "!=",
    "=~",
    "has",
    "contains",
    "and",
    "or",
    "not(",
    "(",
    ")",
    "[",
    "]",
    "'x'",
    '"y"',
    "ago(1d)",
    "bin(Timestamp, 1h)",
    "print",
    "let",
    "=",
    ";",
    "range",
    "x",
    "from",
    "to",
    "step",
    "1",
    "FileName",
    "Timestamp",
    "tostring(",
    "strcat(",
    ",",
    "é",
    "日本",
    "externaldata",
    "render",
    "timechart",
    "join",
    "kind=inner",
    "union",
    "*",
    "1e400",
    "datetime(",
    "dynamic(",
    "parse_json(",
    "mv-expand",
    "make_set(",
    "series_stats(",
    "search",
    "materialize(",
    "//",
    "\\",
    "toscalar(",
    "$left",
    "$right",
    "on",
    "sort",
    "top",
    "5",
    "arg_max(",
    "iff(",
    "case(",
    "between",
]


def _words(rng: random.Random, bits: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(bits + WORDS) for _ in range(rng.randint(lo, hi)))


def _nested(rng: random.Random, inner: str) -> str:
    depth = rng.choice([1, 5, 60, 200, 400])
    return "(" * depth + inner + ")" * depth


def _search_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return _nested(rng, rng.choice(WORDS))
    if kind < 0.25:
        return " ".join(f"t{i}x~2" for i in range(rng.choice([2, 5, 21, 1000])))
    if kind < 0.35:
        return rng.choice(["-", "!", "+"]) * rng.choice([3, 100, 400]) + "x"
    if kind < 0.45:
        return " | ".join(f"w{i}" for i in range(rng.choice([10, 1100]))) + " + z" * rng.choice([1, 80])
    if kind < 0.5:
        return "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 40)))
    return "".join(rng.choice(LUCENE_BITS + WORDS) + rng.choice(["", " "]) for _ in range(rng.randint(1, 12)))


def _search_params(rng: random.Random) -> list[tuple[str, str]]:
    params = [("api-version", "2024-07-01"), ("search", _search_text(rng))]
    optional: dict[str, Callable[[], str]] = {
        "queryType": lambda: rng.choice(["simple", "full", "semantic", "x", ""]),
        "searchMode": lambda: rng.choice(["any", "all", "none"]),
        "$top": lambda: rng.choice(NUMBERS),
        "$skip": lambda: rng.choice(NUMBERS),
        "$count": lambda: rng.choice(["true", "false", "1", ""]),
        "$orderby": lambda: ",".join(
            rng.choice([*FIELDS, "search.score() desc", "x asc"]) for _ in range(rng.randint(1, 3))
        ),
        "$select": lambda: ",".join(rng.choice([*FIELDS, "*"]) for _ in range(rng.randint(1, 3))),
        "searchFields": lambda: ",".join(rng.choice(FIELDS) for _ in range(rng.randint(1, 3))),
        "highlight": lambda: rng.choice(FIELDS) + rng.choice(["", "-3", "-²", "-99999999999999999999"]),
        "highlightPreTag": lambda: rng.choice(["<b>", "", "<" + "x" * 5000 + ">", "é"]),
        "highlightPostTag": lambda: rng.choice(["</b>", "", "日本"]),
        "minimumCoverage": lambda: rng.choice(NUMBERS),
        "$filter": lambda: _filter(rng),
        "facet": lambda: _facet(rng),
    }
    for name in rng.sample(list(optional), rng.randint(0, 6)):
        params.append((name, optional[name]()))
    return params


def _filter(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return _nested(rng, "properties/FileSize gt 1")
    if kind < 0.3:
        op = rng.choice([" or ", " and "])
        return op.join(f"properties/FileSize eq {i}" for i in range(rng.choice([3, 100, 488, 999, 1001])))
    if kind < 0.4:
        return "not " * rng.choice([1, 50, 300]) + "(properties/FileSize gt 1)"
    if kind < 0.55:
        value = rng.choice(["1" + "0" * 30, "-1" + "0" * 30, "1e400", "NaN", "INF", "1.5", "'x'", "null"])
        field = rng.choice(["FileSize", "ProcessId", "Timestamp", "FileName"])
        return f"properties/{field} {rng.choice(['eq', 'ne', 'gt', 'lt', 'ge', 'le'])} {value}"
    return " ".join(rng.choice(FILTER_BITS) for _ in range(rng.randint(1, 14)))


def _facet(rng: random.Random) -> str:
    field = rng.choice(FIELDS)
    opts = rng.sample(["count", "sort", "values", "interval", "timeoffset", "bogus"], rng.randint(0, 2))
    values = {
        "count": lambda: rng.choice(NUMBERS),
        "sort": lambda: rng.choice(["count", "-value", "x"]),
        "values": lambda: "|".join(
            rng.choice([*NUMBERS, "2026-07-20T08:00:00Z"]) for _ in range(rng.randint(1, 4))
        ),
        "interval": lambda: rng.choice([*NUMBERS, "day", "week", "month", "year", "minute"]),
        "timeoffset": lambda: rng.choice(["+01:00", "-99:99", "x"]),
        "bogus": lambda: "1",
    }
    return ",".join([field] + [f"{o}:{values[o]()}" for o in opts])


def _post_body(rng: random.Random) -> Any:
    params = dict(_search_params(rng))
    params.pop("api-version", None)
    body: dict[str, Any] = {
        {
            "$top": "top",
            "$skip": "skip",
            "$filter": "filter",
            "$orderby": "orderby",
            "$select": "select",
            "$count": "count",
            "facet": "facets",
        }.get(k, k): v
        for k, v in params.items()
    }
    odd: list[Any] = [1e20, 1e300, -1, 2**40, 2.5, True, None, [], {}, "x", float("1e308"), 10**30]
    for key in rng.sample(
        ["top", "skip", "count", "minimumCoverage", "facets", "search", "filter"], rng.randint(0, 3)
    ):
        body[key] = rng.choice(odd)
    if "facets" in body and isinstance(body["facets"], str):
        body["facets"] = [body["facets"]]
    return body if rng.random() > 0.03 else rng.choice([[1, 2], "text", 5, None])


def _kql(rng: random.Random, samples: list[str]) -> str:
    kind = rng.random()
    if kind < 0.35 and samples:
        text = list(rng.choice(samples))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and text:
                del text[min(at, len(text) - 1)]
            else:
                text.insert(at, rng.choice(["(", ")", "|", "é", "'", '"', " ", "1", ",", "日"]))
        return "".join(text)
    if kind < 0.45:
        return "print x = " + _nested(rng, "1")
    if kind < 0.5:
        return "print " + " and ".join(["true"] * rng.choice([2, 161, 400]))
    if kind < 0.55:
        return rng.choice(
            ["print é", "print 日本", "print x=1 | extend ü = 2", "DeviceProcessEvents | where é == 1"]
        )
    return _words(rng, KQL_BITS, 1, 25)


def test_fuzzed_requests_never_get_a_5xx(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    batch = Batch()  # a real archive (with a manifest), so hunts share one catalog as on a server
    batch.add("DeviceProcessEvents", crafted_table(200))
    with Archive(archive) as arc:
        arc.commit(batch)
    cfg = Config()
    cfg.index.path = str(tmp_path / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    cfg.hunt.timeout_seconds = 10
    app = create_app(cfg, archive_dir=archive)
    rng = random.Random(SEED)
    samples = [s["query"] for s in load_samples()]
    headers = {"api-key": QUERY_KEY}
    failures: list[str] = []
    slowest: list[tuple[float, str, str]] = []
    sent = 0

    async def run() -> None:
        nonlocal sent
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=RAISE)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            requests: list[tuple[str, Callable[[], Any]]] = []
            for kind, n in COUNTS.items():
                requests += [(kind, lambda: None)] * int(n * SCALE)
            rng.shuffle(requests)
            for kind, _ in requests:
                t0 = time.monotonic()
                if kind == "kql":
                    desc: Any = _kql(rng, samples)
                    resp = await client.post("/api/hunt", json={"query": desc}, headers=headers)
                elif kind == "search_post":
                    desc = _post_body(rng)
                    resp = await client.post(
                        f"/indexes('{INDEX}')/docs/search.post.search",
                        content=json.dumps(desc).encode(),
                        headers={**headers, "content-type": "application/json"},
                    )
                else:
                    desc = _search_params(rng)
                    if kind == "filter":
                        desc.append(("$filter", _filter(rng)))
                    elif kind == "facet":
                        desc += [("facet", _facet(rng)) for _ in range(rng.randint(1, 3))]
                    resp = await client.get(f"/indexes/{INDEX}/docs", params=desc, headers=headers)
                sent += 1
                took = time.monotonic() - t0
                slowest.append((took, kind, str(desc)[:150]))
                if resp.status_code >= 500:
                    failures.append(f"{kind} {resp.status_code} {str(desc)[:300]!r}: {resp.text[:200]}")

    asyncio.run(run())
    print(f"\n{sent} fuzzed requests, {len(failures)} answered 5xx")
    for kind in COUNTS:
        print(f"  {kind}: {sum(t for t, k, _ in slowest if k == kind):.1f} s")
    for took, kind, desc in sorted(slowest, reverse=True)[:8]:
        print(f"  slowest: {took:.2f} s {kind} {desc!r}")
    assert sent >= 5000 * SCALE
    assert not failures, "\n".join(failures[:20])
