"""docs/architecture.md stays true: every module, folder and table it names exists, and its stage layers are
the ones `make lint` enforces (the import-linter contract in pyproject.toml)."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "huntvault"
DOC = ROOT / "docs" / "architecture.md"
STAGE_CONTRACT = "stages follow the data (docs/architecture.md)"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _prose() -> str:
    """The page without its fenced blocks (the pictures are checked separately)."""
    return re.sub(r"```.*?```", "", _text(), flags=re.S)


def _exists(path: str) -> bool:
    return any((base / path).exists() for base in (PKG, ROOT, ROOT / "docs"))


def _paths() -> list[str]:
    """Backticked file and folder names: `forward/sinks.py`, `kql/functions/`, `config.py`."""
    found = re.findall(r"`([A-Za-z0-9_./-]+(?:/|\.py|\.json|\.md))`", _prose())
    return sorted(set(found))


def _where_rows() -> list[tuple[str, list[str], str]]:
    """The "Where to add things" table: (what, paths named, the table or entry point)."""
    section = _text().split("## Where to add things", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("To add", "---") or set(cells[0]) <= {"-"}:
            continue
        paths = re.findall(r"`([A-Za-z0-9_./-]+(?:/|\.py))`", cells[1])
        rows.append((cells[0], paths, cells[2].strip("`")))
    return rows


def _defines(path: Path, name: str) -> bool:
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    pattern = re.compile(rf"^(?:class {name}\b|def {name}\b|{name}\s*[:=])", re.M)
    return any(pattern.search(f.read_text(encoding="utf-8")) for f in files)


def _stage_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"] == STAGE_CONTRACT:
            return list(contract["layers"])
    raise AssertionError(f"pyproject.toml has no import contract named {STAGE_CONTRACT!r}")


def test_the_page_names_real_files_and_folders() -> None:
    paths = _paths()
    assert len(paths) > 20  # the page really is parsed
    assert [p for p in paths if not _exists(p)] == []


def test_every_dotted_module_name_imports() -> None:
    names = sorted({n for n in re.findall(r"`(huntvault(?:\.[a-z_]+)+)`", _text()) if n != "huntvault.toml"})
    assert names
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            parent, _, attr = name.rpartition(".")
            assert hasattr(importlib.import_module(parent), attr), f"{name} is neither a module nor a name"


@pytest.mark.parametrize("row", _where_rows(), ids=lambda r: r[0])
def test_where_to_add_points_at_the_table(row: tuple[str, list[str], str]) -> None:
    what, paths, table = row
    assert paths, f"{what}: no file or folder named"
    assert all((PKG / p).exists() for p in paths), f"{what}: {paths}"
    assert any(_defines(PKG / p, table) for p in paths), f"{what}: {table} is not defined in {paths}"


def test_the_page_covers_what_a_newcomer_adds() -> None:
    what = " ".join(r[0] for r in _where_rows())
    for thing in ("KQL scalar function", "source", "sink", "API route"):
        assert thing in what


def test_the_layer_picture_is_the_enforced_contract() -> None:
    layers = _stage_layers()
    assert "\n".join(layers) in _text(), "docs/architecture.md's layer block differs from pyproject.toml"


def test_every_stage_has_a_row() -> None:
    rows = re.findall(r"^\| `([a-z_]+)/` \|", _text(), flags=re.M)
    stages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").exists())
    assert sorted(rows) == stages
    named = {m for layer in _stage_layers() for m in re.split(r"\s*[|:]\s*", layer)}
    assert set(stages) <= named


def test_every_stage_keeps_its_modules_private() -> None:
    """A new stage gets its import-linter contract: other stages see only its package (its `__all__`)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    protected = {
        c["allowed_importers"][0].removeprefix("huntvault.")
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "protected" and c["protected_modules"] == [f"{c['allowed_importers'][0]}.*"]
    }
    stages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert stages - protected == set()
