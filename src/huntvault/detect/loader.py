"""Rule files and folders: each YAML file read in its shape (native, Sentinel analytics rule or Sigma) into a Rule."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huntvault.detect.model import Rule
from huntvault.detect.ruledoc import Doc, parse_yaml
from huntvault.detect.shapes import SENTINEL_MARKERS, native, sentinel
from huntvault.detect.sigma import SigmaDefaults, is_sigma, sigma
from huntvault.errors import DetectError, RuleError, SigmaRuleError

RULE_SUFFIXES = (".yaml", ".yml")

#: Rule shape name -> builder (chosen by `detect_shape`); Sigma rules take the configured defaults.
SHAPES: dict[str, Callable[[Doc, SigmaDefaults], Rule]] = {
    "native": lambda doc, _: native(doc),
    "sentinel": lambda doc, _: sentinel(doc),
    "sigma": sigma,
}


def detect_shape(data: dict[str, Any]) -> str:
    """`sigma` (logsource/detection), `sentinel` (queryFrequency, entityMappings...) or `native`."""
    if is_sigma(data):
        return "sigma"
    return "sentinel" if any(k in data for k in SENTINEL_MARKERS) else "native"


def load_rule_text(text: str, path: str = "<rule>", sigma_defaults: SigmaDefaults | None = None) -> Rule:
    """Parse one rule from YAML text (any shape). RuleError carries the file position."""
    doc = parse_yaml(text, path)
    return SHAPES[detect_shape(doc.data)](doc, sigma_defaults or SigmaDefaults())


def load_rule(path: str | os.PathLike[str], sigma_defaults: SigmaDefaults | None = None) -> Rule:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read the rule: {exc}", str(p)) from None
    return load_rule_text(text, str(p), sigma_defaults)


def rule_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every *.yaml / *.yml under `folder` (recursively), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise DetectError(f"rules folder {root} does not exist")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RULE_SUFFIXES)


def load_rules(
    folder: str | os.PathLike[str], sigma_defaults: SigmaDefaults | None = None
) -> tuple[list[Rule], list[RuleError]]:
    """Load every rule of a folder: the good ones, and one error per bad file (duplicate ids are errors)."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for f in rule_files(folder):
        try:
            rule = load_rule(f, sigma_defaults)
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            errors.append(RuleError(f"duplicate rule id {rule.id!r} (also in {seen[rule.id]})", str(f), 1, 1))
            continue
        seen[rule.id] = str(f)
        rules.append(rule)
    return rules, errors


def blocking(errors: list[RuleError]) -> list[RuleError]:
    """The errors that stop a scheduler: every one but Sigma rules the backend cannot convert (those are skipped
    and named by `detect check`, so a SigmaHQ checkout runs what converts)."""
    return [e for e in errors if not isinstance(e, SigmaRuleError)]


def find_rule(folder: str | os.PathLike[str], name: str, sigma_defaults: SigmaDefaults | None = None) -> Rule:
    """A rule given as a file path, or by id within `folder`."""
    p = Path(name)
    if p.is_file():
        return load_rule(p, sigma_defaults)
    rules, _ = load_rules(folder, sigma_defaults)
    for rule in rules:
        if rule.id == name:
            return rule
    raise DetectError(f"no rule {name!r}: not a file, and no rule with that id in {folder}")


__all__ = [
    "RULE_SUFFIXES",
    "SHAPES",
    "blocking",
    "detect_shape",
    "find_rule",
    "load_rule",
    "load_rule_text",
    "load_rules",
    "rule_files",
]
