"""Shared pytest fixtures: Azurite, paths to the shared corpus and reference."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import Azurite, start_azurite

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

#: The one reason every test that needs the shared corpus and reference gives when it is absent.
SHARED_MISSING = (
    f"needs ../shared (the KQL corpus and Defender reference beside the clone: {SHARED}); "
    "absent here, so skipped (CI=true makes this a failure)"
)


def require_shared() -> Path:
    """../shared, or one skip line when it is absent; under CI (CI=true) its absence fails the test."""
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{SHARED} is missing: CI runs the corpus tests, so ../shared must sit beside the clone")
    pytest.skip(SHARED_MISSING)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite blob service for the whole test session (tests use their own containers)."""
    with start_azurite() as az:
        yield az


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests using `shared_dir` skip here, before any fixture work, so the summary folds them into one line."""
    if "shared_dir" in getattr(item, "fixturenames", ()):
        require_shared()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (corpus and reference); skipped with one line when absent, failed when absent under CI."""
    return require_shared()


@pytest.fixture(autouse=True)
def _no_demo_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The CLI's fallback to `.demo/huntvault.toml` stays off in tests: a `make demo` run in the same
    clone must not change what a test's `huntvault` command reads."""
    from huntvault import config as configmod

    monkeypatch.setattr(configmod, "DEMO_FILE", str(tmp_path_factory.getbasetemp() / "no-demo" / "x.toml"))
