"""Index-time analysis: values analyzed once per distinct value in DuckDB index exactly the analyzer's tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pyarrow as pa

from huntvault.index import IndexStore, analyze, full_layout
from huntvault.index.analyzers import pretokenize
from huntvault.index.builder import DocumentBuilder, with_part
from huntvault.index.fields import DOC_FIELD
from huntvault.index.rowcodec import decode_row, stored_plan
from huntvault.schema import get_table
from huntvault.search import SearchEngine, from_query_string
from tests.support.search import INDEX, generate_table, write_archive

ODD = [
    r"C:\Windows\System32\CMD.EXE /c whoami /all",
    "O'Brien’s 10.0.0.1:445, 1,024 bytes",
    "Ünïcödé_Wörds ДОМЕН\\Пользователь 東京 x" + "y" * 300 + " tail",
    "--- !!! ...",
    "",
]


def odd_table() -> pa.Table:
    data = generate_table("DeviceProcessEvents", len(ODD), seed=5, spacing_s=60)
    col = data.schema.get_field_index("ProcessCommandLine")
    return data.set_column(col, "ProcessCommandLine", pa.array(ODD, pa.string()))


def test_pretokenize_is_the_analyzer_joined_by_spaces() -> None:
    cache: dict[str, str] = {}
    out = pretokenize([*ODD, None, ODD[0]], cache)
    assert out[-2] is None
    for value, joined in zip([*ODD, ODD[0]], [*out[:-2], out[-1]], strict=True):
        assert joined is not None
        assert joined.split() == analyze(value)
    assert set(cache) == set(ODD)  # each distinct value analyzed once


def test_builder_feeds_pre_analyzed_text() -> None:
    table = get_table("DeviceProcessEvents")
    assert table is not None
    layout = full_layout(table)
    spec = layout.fields["properties/ProcessCommandLine"]
    builder = DocumentBuilder(layout)
    try:
        rows = with_part(odd_table(), "DeviceProcessEvents/date=2026-07-20/part-x.parquet")
        docs = [orjson.loads(d) for batch in builder.documents(rows) for d in batch]
    finally:
        builder.close()
    plan = stored_plan(layout)
    by_text = {decode_row(base64.b64decode(d[DOC_FIELD]), plan)[spec.stored_key]: d for d in docs}
    for value in ODD:
        doc = by_text[value]
        tokens = analyze(value)
        if tokens:
            assert doc[spec.text_field].split() == tokens
        else:  # nothing to search: the analyzed field is absent, as for an empty value
            assert spec.text_field not in doc
        if not value:  # '' is indexed as absent; the stored document keeps it, so documents show ""
            assert spec.value_field not in doc
        else:
            assert doc[spec.value_field] == value


def test_search_and_highlight_after_pre_analysis(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    write_archive(root, "DeviceProcessEvents", odd_table())
    store = IndexStore(tmp_path / "index", root)
    assert store.sync()[INDEX].status == "success"
    engine = SearchEngine(store)

    def hits(qs: str) -> list[dict[str, object]]:
        return list(engine.search(INDEX, from_query_string(qs))["value"])

    found = hits(
        "search=cmd.exe&searchFields=properties/ProcessCommandLine&highlight=properties/ProcessCommandLine"
    )
    assert len(found) == 1
    highlights = found[0]["@search.highlights"]
    assert isinstance(highlights, dict)
    # highlights are computed on the original text with the real analyzer
    assert "<em>CMD.EXE</em>" in highlights["properties/ProcessCommandLine"][0]
    assert len(hits('search="whoami /all"&searchFields=properties/ProcessCommandLine')) == 1
    assert len(hits("search=o'brien’s&searchFields=properties/ProcessCommandLine")) == 1
    assert len(hits("search=пользователь&searchFields=properties/ProcessCommandLine")) == 1
    assert len(hits("search=ünïcödé_wörds&searchFields=properties/ProcessCommandLine")) == 1
    assert len(hits("search=tail&searchFields=properties/ProcessCommandLine")) == 1
    assert hits("search=cmd&searchFields=properties/ProcessCommandLine") == []  # cmd.exe is one token


def test_documents_rebuilt_from_stored_fields(tmp_path: Path) -> None:
    data = generate_table("DeviceProcessEvents", 4, seed=6, spacing_s=60)
    if "_Extra" in data.schema.names:
        data = data.drop_columns(["_Extra"])
    extras = [None, "{}", '{"NewCol":1,"Nested":{"a":[1,2]}}', '{"AccountName":"override","Gone":null}']
    data = data.append_column("_Extra", pa.array(extras, pa.string()))
    col = data.schema.get_field_index("InitiatingProcessAccountName")
    data = data.set_column(col, "InitiatingProcessAccountName", pa.array(["", "a", "", "b"], pa.string()))
    data = data.drop_columns(["FolderPath"])  # a column this part does not have
    root = tmp_path / "archive"
    write_archive(root, "DeviceProcessEvents", data)
    store = IndexStore(tmp_path / "index", root)
    store.sync()
    engine = SearchEngine(store)
    res = engine.search(INDEX, from_query_string("search=*&$orderby=properties/ReportId"))
    docs = res["value"]
    assert [d["properties"]["InitiatingProcessAccountName"] for d in docs] == ["", "a", "", "b"]
    assert all(d["properties"]["FolderPath"] is None for d in docs)
    assert all(d["metadata_storage_size"] is None for d in docs)
    assert list(docs[0])[:7] == [
        "@search.score",
        "id",
        "time",
        "tenantId",
        "category",
        "operationName",
        "properties",
    ]
    assert docs[0]["time"].endswith("Z") and len(docs[0]["time"]) == len("2026-07-20T08:00:00.000000Z")
    assert docs[0]["properties"]["Timestamp"] == data.column("Timestamp")[0].as_py().strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    assert "NewCol" not in docs[0]["properties"]
    assert docs[2]["properties"]["NewCol"] == 1 and docs[2]["properties"]["Nested"] == {"a": [1, 2]}
    props = docs[3]["properties"]
    assert props["AccountName"] == "override" and "Gone" not in props
    assert list(props)[-1] == "AccountName"  # merge-patched keys move to the end, as json_merge_patch
    assert engine.lookup(INDEX, docs[3]["id"]) == {k: v for k, v in docs[3].items() if k != "@search.score"}
