"""Query-language features of the search API, one test each: simple syntax, full Lucene, searchFields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.search import SearchEnv, make_env, report_ids, truth


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SearchEnv:
    return make_env(tmp_path_factory.mktemp("search-query"))


def cmd_has(*words: str) -> Callable[[dict[str, Any]], bool]:
    return lambda row: all(w in row["ProcessCommandLine"].lower().split() for w in words)


def ids(env: SearchEnv, search: str, **params: object) -> set[int]:
    return report_ids(env.search(search=search, **{"$top": 1000, "$select": "properties/ReportId", **params}))


# -- simple syntax ---------------------------------------------------------------------------------


def test_simple_single_term(env: SearchEnv) -> None:
    assert ids(env, "mimikatz") == truth(env.data, lambda r: "mimikatz" in r["ProcessCommandLine"].lower())


def test_simple_plus_is_and(env: SearchEnv) -> None:
    assert ids(env, "wifi + luxury") == truth(env.data, cmd_has("wifi", "luxury"))


def test_simple_pipe_is_or(env: SearchEnv) -> None:
    expected = truth(
        env.data, lambda r: "motel" in r["ProcessCommandLine"] or "resort" in r["ProcessCommandLine"]
    )
    assert ids(env, "motel | resort") == expected


def test_simple_default_operator_any(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: cmd_has("wifi")(r) or cmd_has("luxury")(r))
    assert ids(env, "wifi luxury") == expected and len(expected) == 3


def test_simple_search_mode_all(env: SearchEnv) -> None:
    assert ids(env, "wifi luxury", searchMode="all") == truth(env.data, cmd_has("wifi", "luxury"))


def test_simple_negation_any_is_or_not(env: SearchEnv) -> None:
    # Azure: under searchMode=any, `wifi -luxury` means wifi OR NOT luxury (nearly everything)
    got = env.search(search="wifi -luxury", **{"$count": "true", "$top": 0})["@odata.count"]
    expected = truth(env.data, lambda r: cmd_has("wifi")(r) or not cmd_has("luxury")(r))
    assert got == len(expected) and got > len(env.data) - 3


def test_simple_negation_all_is_and_not(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: cmd_has("wifi")(r) and not cmd_has("luxury")(r))
    assert ids(env, "wifi -luxury", searchMode="all") == expected and len(expected) == 1


def test_simple_phrase(env: SearchEnv) -> None:
    assert ids(env, '"hotel airport"') == truth(
        env.data, lambda r: "hotel airport" in r["ProcessCommandLine"]
    )


def test_simple_prefix(env: SearchEnv) -> None:
    assert ids(env, "mimi*") == truth(env.data, lambda r: "mimikatz" in r["ProcessCommandLine"].lower())


def test_simple_parentheses_precedence(env: SearchEnv) -> None:
    expected = truth(
        env.data,
        lambda r: (cmd_has("wifi")(r) or "motel" in r["ProcessCommandLine"]) and cmd_has("airport")(r),
    )
    assert ids(env, "(wifi | motel) + airport") == expected and len(expected) == 2


def test_simple_escaped_minus_is_literal(env: SearchEnv) -> None:
    # an escaped leading '-' is a plain term, not a negation
    assert ids(env, "\\-luxury") == truth(env.data, cmd_has("luxury"))


def test_simple_hyphenated_guid_needs_no_escape(env: SearchEnv) -> None:
    assert ids(env, "3352CDD0-EF30-4A2E-A2B9-1F8E9A3C1B77") == truth(
        env.data, lambda r: "3352CDD0" in r["ProcessCommandLine"]
    )


def test_simple_words_and_or_not_are_terms(env: SearchEnv) -> None:
    # AND / OR / NOT are not operators in simple syntax: "wifi AND luxury" under all needs a term "and"
    assert ids(env, "wifi AND luxury", searchMode="all") == set()


def test_star_matches_everything_with_score_one(env: SearchEnv) -> None:
    res = env.search(search="*", **{"$count": "true", "$top": 3})
    assert res["@odata.count"] == len(env.data)
    assert {hit["@search.score"] for hit in res["value"]} == {1.0}


# -- full Lucene -------------------------------------------------------------------------------------


def full(env: SearchEnv, search: str, **params: object) -> set[int]:
    return ids(env, search, queryType="full", **params)


def test_lucene_fielded_term(env: SearchEnv) -> None:
    assert full(env, "properties/FileName:motel.exe") == truth(
        env.data, lambda r: r["FileName"] == "motel.exe"
    )


def test_lucene_fielded_phrase_on_complex_subfield(env: SearchEnv) -> None:
    assert full(env, 'properties/DeviceName:"beta host"') == truth(
        env.data, lambda r: r["DeviceName"] == "beta-host"
    )


def test_lucene_and_not_words(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: cmd_has("wifi")(r) and not cmd_has("luxury")(r))
    assert full(env, "wifi AND NOT luxury") == expected


def test_lucene_symbol_operators(env: SearchEnv) -> None:
    assert full(env, "wifi && !luxury") == truth(
        env.data, lambda r: cmd_has("wifi")(r) and not cmd_has("luxury")(r)
    )
    assert full(env, "resort || guidrun") == truth(
        env.data, lambda r: cmd_has("resort")(r) or cmd_has("guidrun")(r)
    )


def test_lucene_not_is_anded_even_in_any_mode(env: SearchEnv) -> None:
    assert full(env, "wifi -luxury") == truth(
        env.data, lambda r: cmd_has("wifi")(r) and not cmd_has("luxury")(r)
    )


def test_lucene_grouping(env: SearchEnv) -> None:
    expected = truth(
        env.data, lambda r: (cmd_has("wifi")(r) or cmd_has("resort")(r)) and cmd_has("luxury")(r)
    )
    assert full(env, "(wifi OR resort) AND luxury") == expected and len(expected) == 2


def test_lucene_required_plus(env: SearchEnv) -> None:
    assert full(env, "+airport wifi") == truth(env.data, cmd_has("airport"))


def test_lucene_fuzzy(env: SearchEnv) -> None:
    assert full(env, "mimikatx~1") == truth(env.data, lambda r: "mimikatz" in r["ProcessCommandLine"].lower())
    assert full(env, "mimikaxx~1") == set()


def test_lucene_proximity(env: SearchEnv) -> None:
    near = truth(env.data, lambda r: cmd_has("hotel", "airport")(r))
    assert full(env, '"hotel airport"~3') == near and len(near) == 2
    assert full(env, '"hotel airport"') == truth(
        env.data, lambda r: "hotel airport" in r["ProcessCommandLine"]
    )


def test_lucene_boost_changes_order(env: SearchEnv) -> None:
    base = env.search(search="resort OR near", queryType="full", **{"$select": "properties/ReportId"})
    boosted = env.search(search="resort OR near^20", queryType="full", **{"$select": "properties/ReportId"})
    first = lambda res: res["value"][0]["properties"]["ReportId"]  # noqa: E731
    near_id = truth(env.data, cmd_has("near")).pop()
    assert first(boosted) == near_id
    assert boosted["value"][0]["@search.score"] > base["value"][0]["@search.score"] or first(base) == near_id


def test_lucene_regex(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: cmd_has("hotel")(r) or "motel" in r["ProcessCommandLine"])
    assert full(env, "/[mh]otel/") == expected and len(expected) == 3


def test_lucene_wildcards(env: SearchEnv) -> None:
    assert full(env, "mot?l") == truth(env.data, lambda r: "motel" in r["ProcessCommandLine"])
    assert full(env, "hello*ld") == truth(env.data, cmd_has("helloworld"))


def test_lucene_escaped_special_characters(env: SearchEnv) -> None:
    assert full(env, "sekurlsa\\:\\:logonpasswords") == truth(
        env.data, lambda r: "sekurlsa" in r["ProcessCommandLine"]
    )


# -- searchFields ----------------------------------------------------------------------------------


def test_search_fields_restricts_fields(env: SearchEnv) -> None:
    everywhere = ids(env, "motel")
    only_file = ids(env, "motel.exe", searchFields="properties/FileName")
    assert only_file == truth(env.data, lambda r: r["FileName"] == "motel.exe")
    assert ids(env, "motel", searchFields="properties/FileName") == set()
    assert everywhere


def test_fielded_lucene_overrides_search_fields(env: SearchEnv) -> None:
    got = full(env, "properties/DeviceName:alpha", searchFields="properties/FileName")
    assert got == truth(env.data, lambda r: r["DeviceName"] == "alpha-host")


def test_simple_prefix_keeps_dots_of_standard_tokens(env: SearchEnv) -> None:
    expected = truth(env.data, lambda r: r["FileName"] == "cmd.exe")
    assert ids(env, "cmd.e*", searchFields="properties/FileName") == expected and expected
    assert ids(env, "cmd", searchFields="properties/FileName") == set()  # cmd.exe is one standard token
