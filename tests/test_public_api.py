"""The public API is a decision: each package's `__all__` is pinned in tests/fixtures/public_api.json.

A change to an `__all__` fails here until the pin is updated in the same commit, so it shows in review.
Regenerate the pin after a deliberate change: `.venv/bin/python -m tests.test_public_api`.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import sys
from pathlib import Path

import pytest

import huntvault

PIN = Path(__file__).parent / "fixtures" / "public_api.json"

#: every stage is a package whose other-stage importers see only its `__all__` (import-linter checks that)
STAGES = ("schema", "emulator", "sources", "archive", "index", "search", "kql", "forward", "detect", "web")


def _modules() -> list[str]:
    """Every huntvault module that is a package or a top-level module (the places an `__all__` is public)."""
    names = ["huntvault"]
    for info in pkgutil.walk_packages(huntvault.__path__, "huntvault."):
        if info.ispkg or info.name.count(".") == 1:
            names.append(info.name)
    return sorted(names)


def current() -> dict[str, list[str]]:
    """module -> its `__all__` as written (order kept), for every module that declares one."""
    found: dict[str, list[str]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is not None:
            found[name] = list(exported)
    return found


def pinned() -> dict[str, list[str]]:
    """The pin (empty before it is first written, so the comparison test says what to run)."""
    if not PIN.exists():
        return {}
    data: dict[str, list[str]] = json.loads(PIN.read_text(encoding="utf-8"))
    return data


def test_every_stage_declares_its_public_api() -> None:
    missing = [s for s in STAGES if not hasattr(importlib.import_module(f"huntvault.{s}"), "__all__")]
    assert missing == [], f"stages without __all__: {missing}"


def test_public_api_matches_the_pin() -> None:
    now, pin = current(), pinned()
    problems: list[str] = []
    for module in sorted(now.keys() | pin.keys()):
        added = sorted(set(now.get(module, [])) - set(pin.get(module, [])))
        removed = sorted(set(pin.get(module, [])) - set(now.get(module, [])))
        if added:
            problems.append(f"{module}: new public names {added}")
        if removed:
            problems.append(f"{module}: names no longer public {removed}")
    assert problems == [], (
        "the public API changed; if that is intended, run `.venv/bin/python -m tests.test_public_api` "
        "and commit tests/fixtures/public_api.json:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("module", sorted(pinned()))
def test_every_public_name_exists_once(module: str) -> None:
    mod = importlib.import_module(module)
    exported = list(getattr(mod, "__all__", []))
    assert len(exported) == len(set(exported)), f"{module}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(mod, name)]
    assert missing == [], f"{module}.__all__ names what the module does not define: {missing}"


#: the status models the CLI's --json and the web APIs print: public, typed, one `to_json()` each
STATUS_MODELS = (
    "huntvault.archive.ArchiveStatus",
    "huntvault.forward.ForwardStatus",
    "huntvault.detect.DetectStatus",
    "huntvault.detect.BacktestReport",
    "huntvault.detect.FolderReport",
    "huntvault.detect.CheckReport",
)


@pytest.mark.parametrize("name", STATUS_MODELS)
def test_status_models_are_dataclasses_with_to_json(name: str) -> None:
    module, _, cls_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module), cls_name)
    assert cls_name in pinned()[module]
    assert dataclasses.is_dataclass(cls)
    assert callable(getattr(cls, "to_json", None))


def test_the_pin_is_sorted_json() -> None:
    """The pin is written by this module, so a hand edit that would make review diffs noisy shows here."""
    assert PIN.read_text(encoding="utf-8") == _render(pinned())


def _render(data: dict[str, list[str]]) -> str:
    return json.dumps({k: sorted(v) for k, v in sorted(data.items())}, indent=2) + "\n"


if __name__ == "__main__":
    PIN.write_text(_render(current()), encoding="utf-8")
    sys.stdout.write(f"wrote {PIN}\n")
