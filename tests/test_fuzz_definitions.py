"""No 5xx on the index-definition routes: 1,500 seeded mutated definitions, names, headers and flags sent to
PUT/POST/GET/DELETE /indexes and the indexer status, in process through the real ASGI stack."""

from __future__ import annotations

import asyncio
import copy
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from huntvault.config import Config
from huntvault.index import default_layout, render_definition
from huntvault.schema import get_table
from huntvault.web import create_app
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, crafted_table, write_archive

pytestmark = pytest.mark.slow
SEED = 17
REQUESTS = 1500
JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1e300,
    float("1e308"),
    "",
    "x",
    "é日本😀",
    "a" * 5000,
    [],
    [1, "x"],
    {},
    {"a": {"b": [None]}},
    "Edm.String",
    "Edm.Int64",
    "Collection(Edm.String)",
    "standard.lucene",
    "keyword",
    "../../etc",
]
NAMES = [
    INDEX,
    "DeviceProcessEvents",
    "insights-logs-advancedhunting-alertinfo",
    "insights-logs-advancedhunting-nosuchtable",
    "x",
    "UPPER",
    "a" * 300,
    "..",
    "%2e%2e%2fetc",
    "é",
    "insights-logs-advancedhunting-deviceprocessevents'x",
    "",
]


def _base() -> dict[str, Any]:
    table = get_table("DeviceProcessEvents")
    assert table is not None
    body = render_definition(default_layout(table))
    body.pop("@odata.etag")
    return body


def _fields(body: dict[str, Any]) -> list[dict[str, Any]]:
    top = body.get("fields")
    out = [f for f in top if isinstance(f, dict)] if isinstance(top, list) else []
    for f in list(out):
        if isinstance(f.get("fields"), list):
            out += [g for g in f["fields"] if isinstance(g, dict)]
    return out


def _mutate(rng: random.Random, body: dict[str, Any]) -> Any:
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        fields = _fields(body)
        if kind < 0.4 and fields:
            field = rng.choice(fields)
            attr = rng.choice(
                [
                    "searchable",
                    "filterable",
                    "sortable",
                    "facetable",
                    "retrievable",
                    "key",
                    "analyzer",
                    "searchAnalyzer",
                    "indexAnalyzer",
                    "type",
                    "name",
                    "stored",
                    "normalizer",
                    "synonymMaps",
                    "fields",
                    "dimensions",
                    "bogus",
                ]
            )
            field[attr] = rng.choice([*JUNK, not field.get(attr)])
        elif kind < 0.55 and fields:
            victim = rng.choice(fields)
            for holder in [body, *fields]:
                if isinstance(holder.get("fields"), list) and victim in holder["fields"]:
                    holder["fields"].remove(victim)
                    break
        elif kind < 0.65 and fields and isinstance(body.get("fields"), list):
            body["fields"].append(copy.deepcopy(rng.choice(fields)))
        elif kind < 0.8:
            body[
                rng.choice(
                    [
                        "name",
                        "description",
                        "fields",
                        "scoringProfiles",
                        "similarity",
                        "corsOptions",
                        "@huntvault.strictAttributes",
                        "suggesters",
                        "vectorSearch",
                        "zzz",
                    ]
                )
            ] = rng.choice(JUNK)
        elif kind < 0.9:
            body.pop(rng.choice(list(body) or ["name"]), None)
        else:
            return rng.choice([[body], "text", 5, None, {"name": INDEX}])
    return body


def test_fuzzed_definition_requests_never_get_a_5xx(tmp_path: Path) -> None:
    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(40))
    cfg = Config()
    cfg.index.path = str(tmp_path / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    app = create_app(cfg, archive_dir=tmp_path / "archive")
    rng = random.Random(SEED)
    failures: list[str] = []
    statuses: dict[int, int] = {}

    async def run() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            for _ in range(REQUESTS):
                name = rng.choice(NAMES) if rng.random() < 0.3 else INDEX
                form = rng.choice(["/indexes/{}", "/indexes('{}')"])
                path = form.format(name)
                headers: dict[str, str | bytes] = {"api-key": ADMIN_KEY, "content-type": "application/json"}
                if rng.random() < 0.1:  # header values as raw bytes (UTF-8 too)
                    junk = str(rng.choice(JUNK))[:200].encode("utf-8")
                    headers[rng.choice(["if-match", "if-none-match", "prefer"])] = junk
                raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
                params = {"allowIndexDowntime": str(rng.choice(JUNK))[:50]} if rng.random() < 0.1 else {}
                kind = rng.random()
                body = _mutate(rng, _base())
                if kind < 0.6:
                    desc = ("PUT", path, body)
                    resp = await client.put(
                        path, content=json.dumps(body).encode(), headers=raw, params=params
                    )
                elif kind < 0.75:
                    desc = ("POST", "/indexes", body)
                    resp = await client.post("/indexes", content=json.dumps(body).encode(), headers=raw)
                elif kind < 0.82:
                    desc = ("DELETE", path, None)
                    resp = await client.delete(path, headers=raw)
                elif kind < 0.9:
                    desc = ("GET", path, None)
                    resp = await client.get(path, headers=raw)
                else:
                    indexer = f"/indexers/{name}-indexer/status"
                    desc = ("GET", indexer, None)
                    resp = await client.get(indexer, headers=raw)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code >= 500:
                    failures.append(
                        f"{desc[0]} {desc[1]} {str(desc[2])[:300]}: {resp.status_code} {resp.text[:300]}"
                    )
            # whatever happened, the service still answers: put the default definition back and search
            ok = await client.put(f"/indexes/{INDEX}", json=_base(), headers={"api-key": ADMIN_KEY})
            assert ok.status_code in (200, 201), ok.text
            searched = await client.get(
                f"/indexes/{INDEX}/docs", params={"search": "*"}, headers={"api-key": ADMIN_KEY}
            )
            assert searched.status_code == 200

    asyncio.run(run())
    app.state.ctx.search.stop()
    print(f"\n{REQUESTS} fuzzed definition requests: {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures[:20])
    assert statuses.get(400, 0) > REQUESTS / 3  # most mutations are invalid: each a 400
