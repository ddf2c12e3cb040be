"""Shared pytest fixtures: Azurite, paths to the shared corpus and reference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import Azurite, start_azurite

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite blob service for the whole test session (tests use their own containers)."""
    with start_azurite() as az:
        yield az


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the corpus and reference sit beside the repository")
    return SHARED
