"""Backtest reports as text people read: alerts per day as a sparkline, top entities, busiest windows, estimates."""

from __future__ import annotations

from huntvault.detect.backtesting import BacktestReport, FolderReport

#: Sparkline marks from the smallest non-zero count to the largest (a day without alerts is `_`).
MARKS = "▁▂▃▄▅▆▇█"
ZERO = "_"
#: The widest sparkline; longer ranges add up several days per mark.
MAX_WIDTH = 90
#: Entity values shown per kind.
TOP_ENTITIES = 5


def sparkline(counts: list[int], width: int = MAX_WIDTH) -> tuple[str, int]:
    """(marks, days per mark): `counts` bucketed to at most `width` marks, each scaled to the largest bucket."""
    if not counts:
        return "", 1
    per = -(-len(counts) // width)
    buckets = [sum(counts[i : i + per]) for i in range(0, len(counts), per)]
    top = max(buckets)
    marks = []
    for n in buckets:
        if n <= 0:
            marks.append(ZERO)
        else:
            marks.append(MARKS[min(len(MARKS) - 1, (n * len(MARKS) - 1) // top)] if top else ZERO)
    return "".join(marks), per


def _chart(days: list[str], counts: list[int]) -> list[str]:
    line, per = sparkline(counts)
    if not line:
        return []
    unit = "day" if per == 1 else f"{per} days"
    return [
        f"  alerts per day  {days[0]} {line} {days[-1]}  (one mark = {unit}, max {max(counts)}/day)",
    ]


def render(rep: BacktestReport) -> str:
    """The report of one rule, as printed by `huntvault detect backtest RULE`."""
    lines = [f"{rep.rule_id} ({rep.rule_name}, {rep.severity}): every {rep.every}, lookback {rep.lookback}"]
    how = rep.path + (f" (one pass not possible: {rep.fallback})" if rep.fallback else "")
    lines.append(
        f"{rep.windows} windows from {rep.start.isoformat()} to {rep.end.isoformat()}: {rep.rows} result rows, "
        f"{rep.alerts} alerts, {rep.suppressed} suppressed; {rep.seconds:.3f} s {how}, {rep.queries} queries "
        f"({rep.query_seconds:.3f} s in queries, slowest window {rep.slowest_window_seconds:.3f} s)"
    )
    lines += _chart(rep.days, rep.daily)
    lines.append(f"  estimated alerts per day going forward: {rep.estimated_per_day:.2f}")
    for day, n in rep.per_day.items():
        lines.append(f"  {day}  {n}")
    for kind, values in rep.entities.items():
        shown = ", ".join(f"{v} ({n})" for v, n in list(values.items())[:TOP_ENTITIES])
        more = len(values) - TOP_ENTITIES
        lines.append(f"  top {kind}: {shown}" + (f" ... {more} more" if more > 0 else ""))
    if rep.busiest:
        lines.append("  busiest windows:")
        for w in rep.busiest:
            lines.append(
                f"    [{w.start.isoformat()}, {w.end.isoformat()})  {w.alerts} alerts, {w.rows} rows"
            )
    return "\n".join(lines)


def render_folder(rep: FolderReport) -> str:
    """The summary of `huntvault detect backtest --all`: one line per rule, then the folder's totals."""
    lines = []
    width = max((len(r.rule_id) for r in rep.reports), default=10)
    for r in sorted(rep.reports, key=lambda r: (-r.alerts, r.rule_id)):
        line, _ = sparkline(r.daily, 30)
        lines.append(
            f"{r.rule_id:<{width}}  {r.alerts:>6} alerts  {r.estimated_per_day:>8.2f}/day  {line:<30}  "
            f"{r.path}{' (' + r.fallback + ')' if r.fallback else ''}  {r.seconds:.2f} s"
        )
    for rid, why in rep.errors.items():
        lines.append(f"{rid:<{width}}  error: {why}")
    days = rep.reports[0].days if rep.reports else []
    total = [sum(r.daily[i] for r in rep.reports) for i in range(len(days))]
    lines.append(
        f"{len(rep.reports)} rules backtested from {rep.start.isoformat()} to {rep.end.isoformat()} in "
        f"{rep.seconds:.1f} s: {rep.alerts} alerts, about "
        f"{sum(r.estimated_per_day for r in rep.reports):.2f} per day going forward"
        + (f"; {len(rep.errors)} rules failed" if rep.errors else "")
    )
    lines += _chart(days, total)
    return "\n".join(lines)


__all__ = ["MARKS", "MAX_WIDTH", "TOP_ENTITIES", "ZERO", "render", "render_folder", "sparkline"]
