"""Pieces of aggregate lowerings: conditional aggregates (`FILTER (WHERE ...)`) and numeric inputs."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql.values import NUMERIC, T, as_bool, convert


def only_if(value: exp.Expression, cond: T) -> exp.Expression:
    """The aggregate over the rows where `cond` holds (`FILTER (WHERE ...)`)."""
    return exp.Filter(this=value, expression=exp.Where(this=as_bool(cond)))


def numeric(v: T) -> T:
    """A value aggregated as a number (dynamic and text as reals; timespans and datetimes as they are)."""
    return convert(v, "real") if v.type not in (*NUMERIC, "timespan", "datetime") else v
