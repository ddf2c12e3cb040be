"""The app's state (built once by `create_app`, never changed after) and the FastAPI dependencies routes take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from huntvault.archive import ArchiveLocation
from huntvault.config import Config
from huntvault.search import SearchService
from huntvault.web.policy import Caller, KeyRing, Role
from huntvault.web.workers import HuntRegistry, Lane

#: where the guard leaves the authenticated caller in the ASGI scope
CALLER_SCOPE_KEY = "huntvault.caller"


@dataclass(frozen=True)
class AppContext:
    """Everything the routes use: a private copy of the configuration, the archive (`archive_dir` as given:
    a folder or an az:// URL; `archive` resolved with the configuration's credentials), the search service,
    the keys, the worker lanes for searches and hunts, and the registry that cancels hunts on shutdown."""

    config: Config
    archive_dir: str
    archive: ArchiveLocation
    search: SearchService
    keys: KeyRing
    searches: Lane
    hunts: Lane
    running_hunts: HuntRegistry


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def get_caller(request: Request) -> Caller:
    """The caller the guard authenticated (anonymous on public routes)."""
    caller = request.scope.get(CALLER_SCOPE_KEY)
    return caller if isinstance(caller, Caller) else Caller(Role.ANONYMOUS, "anonymous")


def get_config(request: Request) -> Config:
    return get_context(request).config


def get_archive(request: Request) -> ArchiveLocation:
    return get_context(request).archive


def get_search(request: Request) -> SearchService:
    return get_context(request).search


Context = Annotated[AppContext, Depends(get_context)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ConfigDep = Annotated[Config, Depends(get_config)]
ArchiveDep = Annotated[ArchiveLocation, Depends(get_archive)]
SearchDep = Annotated[SearchService, Depends(get_search)]
