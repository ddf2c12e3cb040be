"""`detect check`: every rule file parsed, its KQL compiled against the schema, its columns checked, with positions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from huntvault.detect.engine import Checker, SchemaChecker, result_columns, tables_read
from huntvault.detect.loader import load_rules
from huntvault.detect.model import Position, Rule, kql_word_at
from huntvault.detect.sigma import SigmaDefaults
from huntvault.errors import DetectError, KqlError


@dataclass(frozen=True)
class Problem:
    """One finding in a rule file (1-based line/column; 0 when unknown)."""

    path: str
    line: int
    column: int
    message: str
    rule_id: str = ""
    severity: str = "error"  # error | warning
    field: str = ""  # the offending rule key, as a dotted path (Sigma rules: "detection.selection.Image")

    def render(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}" + (f" [{self.field}]" if self.field else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "rule": self.rule_id,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class CheckReport:
    rules: list[Rule] = field(default_factory=list)  # rules without errors
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {"ok": [r.id for r in self.rules], "problems": [p.to_json() for p in self.problems]}


def check_rule(rule: Rule, checker: Checker = result_columns) -> list[Problem]:
    """KQL errors (mapped onto the rule file), then entity columns the query's output lacks."""
    try:
        columns = checker(rule.query)
    except KqlError as exc:
        pos = rule.kql_to_file(exc.line, exc.column)
        if rule.shape == "sigma":
            return [_sigma_kql_problem(rule, exc, pos)]
        return [Problem(rule.path, pos.line, pos.column, f"KQL: {exc.message}", rule.id)]
    except DetectError as exc:
        pos = rule.query_position
        return [Problem(rule.path, pos.line, pos.column, str(exc), rule.id)]
    problems: list[Problem] = []
    have = set(columns)
    for ent in rule.entities:
        missing = [c for c in ent.columns if c not in have]
        if len(missing) == len(ent.columns):
            pos = rule.positions.get(f"entities.{ent.kind}", rule.query_position)
            problems.append(
                Problem(
                    rule.path,
                    pos.line,
                    pos.column,
                    f"entity {ent.kind}: the query's output has no column {', '.join(missing)} "
                    f"(it has: {', '.join(columns) or 'none'})",
                    rule.id,
                )
            )
    if not tables_read(rule.query):
        pos = rule.query_position
        problems.append(
            Problem(
                rule.path,
                pos.line,
                pos.column,
                "the query names no archive table, so the schedule window cannot be imposed on it",
                rule.id,
                "warning",
            )
        )
    return problems


def _sigma_kql_problem(rule: Rule, exc: KqlError, pos: Position) -> Problem:
    """The converted KQL of a Sigma rule fails on huntvault's engine: name the Sigma field it came from."""
    column = kql_word_at(rule.query, exc.line, exc.column)
    field = rule.sigma_fields.get(column, "detection")
    where = f" (converted KQL line {exc.line}, column {exc.column})" if exc.line else ""
    return Problem(
        rule.path,
        pos.line,
        pos.column,
        f"the KQL converted from this Sigma rule does not run on huntvault: {exc.message}{where}",
        rule.id,
        field=field,
    )


def check_rules(
    folder: str | os.PathLike[str],
    checker: Checker | None = None,
    sigma_defaults: SigmaDefaults | None = None,
) -> CheckReport:
    """Check every rule file under `folder` (KQL against the schema through one empty-archive engine)."""
    rules, errors = load_rules(folder, sigma_defaults)
    report = CheckReport()
    for err in errors:
        report.problems.append(Problem(err.path, err.line, err.column, err.message, field=err.field))
    own = SchemaChecker() if checker is None and rules else None
    try:
        for rule in rules:
            found = check_rule(rule, checker or own or result_columns)
            report.problems.extend(found)
            if not any(p.severity == "error" for p in found):
                report.rules.append(rule)
    finally:
        if own is not None:
            own.close()
    report.problems.sort(key=lambda p: (p.path, p.line, p.column))
    return report


__all__ = ["CheckReport", "Problem", "check_rule", "check_rules"]
