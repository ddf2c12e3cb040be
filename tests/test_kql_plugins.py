"""The evaluate plugins of kql/plugins: a wrong call is a KqlSemanticError at the culprit's line and column,
and a plugin that needs a service is a KqlUnsupportedError naming it. (Their results are fixture cases in
tests/kql_cases/plugins.kql.)"""

from __future__ import annotations

import pytest

from huntvault.errors import KqlLimitError, KqlSemanticError, KqlUnsupportedError
from huntvault.kql import execute
from huntvault.kql.backends import DuckDBBackend
from tests.support.kql import NOW

EVENTS = "datatable(id:long, t:datetime, s:string)[1, datetime(2017-01-02), 'a']\n"
NETS = "let nets = datatable(network:string)['fe80::/64'];\n"

#: (query, the culprit's text: the error points at its first occurrence on the last line, a message fragment)
BAD_CALLS = [
    (EVENTS + "| evaluate activity_metrics(id, t)", "activity_metrics(", "takes 3 to 64 arguments"),
    (
        EVENTS + "| evaluate activity_metrics(id, s, 7d)",
        "s, 7d",
        "the timeline must be a datetime or a number",
    ),
    (EVENTS + "| evaluate activity_metrics(id, t, id)", "id)", "the window must be a constant"),
    (EVENTS + "| evaluate activity_metrics(id, t, 7d, 3)", "3)", "a dimension must be a column"),
    (EVENTS + "| evaluate activity_engagement(id, t, 1d, -7d)", "-7d", "the outer window must be positive"),
    (EVENTS + "| evaluate new_activity_metrics(id, t, 1d)", "new_activity_metrics(", "takes 5 to 64"),
    (
        EVENTS + "| evaluate new_activity_metrics(id, t, 1, 2, 1d)",
        "1, 2",
        "Start and End must be of the timeline's type",
    ),
    (
        EVENTS + "| evaluate session_count(id, t, datetime(2017-01-01), datetime(2017-02-01), 1d, s)",
        "s)",
        "the lookback window must be a constant",
    ),
    (EVENTS + "| evaluate sequence_detect(t, 1d, 2d, x = s)", "s)", "a step must be a predicate"),
    (EVENTS + "| evaluate sequence_detect(t, 1d, 2d, s, x = s == 'a')", "s, x", "the steps come before"),
    (
        EVENTS
        + "| evaluate funnel_sequence(id, t, datetime(2017-01-01), datetime(2017-02-01), 1d, 7d, s, 'a')",
        "'a')",
        "the sequence must be a constant non-empty dynamic array",
    ),
    (
        EVENTS
        + "| evaluate funnel_sequence_completion(id, t, datetime(2017-01-01), datetime(2017-02-01), 7d,"
        " s, dynamic(['a']), dynamic(['x']))",
        "dynamic(['x'])",
        "MaxSequenceStepWindows must be a constant dynamic array of timespans",
    ),
    (EVENTS + "| summarize h = hll(id) | evaluate dcount_intersect(h)", "dcount_intersect(", "2 to 16"),
    (EVENTS + "| evaluate dcount_intersect(id, id)", "id, id", "must be hll() values"),
    (EVENTS + "| evaluate preview(-1)", "-1", "non-negative constant integer"),
    (
        NETS + "datatable(ip:string)['fe80::1'] | evaluate ipv6_lookup(ip, ip, network)",
        "ip, ip",
        "must be a table",
    ),
    (
        NETS + "datatable(ip:string)['fe80::1'] | evaluate ipv6_lookup(nets, ip, network, 1)",
        "1)",
        "true or false",
    ),
    (
        NETS + "datatable(ip:long)[1] | evaluate ipv6_lookup(nets, ip, network)",
        "ip, network",
        "must be strings",
    ),
    (
        NETS + "datatable(ip:string)['fe80::1'] | evaluate ipv6_lookup(nets, ip, network, x)",
        "x)",
        "extra key",
    ),
    (
        NETS + "datatable(ip:string)['fe80::1'] | evaluate ipv6_lookup(nets, ip, network, wrong = true)",
        "true)",
        "unknown argument 'wrong'",
    ),
]


@pytest.fixture(scope="module")
def backend() -> DuckDBBackend:
    return DuckDBBackend(None)


@pytest.mark.parametrize(("query", "culprit", "fragment"), BAD_CALLS, ids=[c[1] + c[2] for c in BAD_CALLS])
def test_bad_plugin_call_is_a_semantic_error_at_the_culprit(
    query: str, culprit: str, fragment: str, backend: DuckDBBackend
) -> None:
    with pytest.raises(KqlSemanticError) as info:
        execute(query, backend=backend, now=NOW)
    err = info.value
    assert not isinstance(err, KqlUnsupportedError)
    assert fragment in err.message
    lines = query.splitlines()
    assert err.line == len(lines)
    assert err.column == lines[-1].index(culprit) + 1


SERVICE_PLUGINS = [
    ("python", '(typeof(*), "result = df")'),
    ("r", '(typeof(*), "result <- df")'),
    ("sql_request", '("Server=tcp:x", "select 1")'),
    ("mysql_request", '("Server=x", "select 1")'),
    ("postgresql_request", '("Host=x", "select 1")'),
    ("cosmosdb_sql_request", '("AccountEndpoint=x", "select 1")'),
    ("http_request", '("https://example.com")'),
    ("http_request_post", '("https://example.com", dynamic({}), "body")'),
    ("azure_digital_twins_query_request", '("https://x", "SELECT T FROM DIGITALTWINS T")'),
    ("identity_query_request", '("graph query")'),
    ("infer_storage_schema", '(dynamic({"Storage": "https://x"}))'),
]


@pytest.mark.parametrize(("name", "args"), SERVICE_PLUGINS, ids=[n for n, _ in SERVICE_PLUGINS])
def test_a_plugin_needing_a_service_fails_naming_it(name: str, args: str, backend: DuckDBBackend) -> None:
    query = f"print x = 1\n| evaluate {name}{args}"
    with pytest.raises(KqlUnsupportedError) as info:
        execute(query, backend=backend, now=NOW)
    assert f"evaluate {name}()" in info.value.message
    assert "not available offline" in info.value.message
    assert info.value.line == 2


#: plugins that enumerate every window from Start to End refuse more than range()'s cap of them
TOO_MANY_WINDOWS = [
    EVENTS + "| evaluate new_activity_metrics(id, t, datetime(2017-01-01), datetime(2217-01-01), 1s)",
    EVENTS + "| evaluate sliding_window_counts(id, t, datetime(2017-01-01), datetime(2217-01-01), 1d, 1s)",
    EVENTS
    + "| evaluate active_users_count(id, t, datetime(2017-01-01), datetime(2217-01-01), 1d, 1d, 1, 1s)",
]


@pytest.mark.parametrize("query", TOO_MANY_WINDOWS, ids=["new_activity_metrics", "sliding", "active_users"])
def test_too_many_windows_is_a_limit_error(query: str, backend: DuckDBBackend) -> None:
    with pytest.raises(KqlLimitError) as info:
        execute(query, backend=backend, now=NOW)
    assert "the maximum is 1,048,576" in info.value.message
    assert info.value.line == 2
