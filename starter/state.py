"""The running app's state (settings, registry, Temporal client, database) and the FastAPI
dependencies that read it, for the API routes and the pages alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from activities.errors import ServiceError
from settings import Settings
from store.db import SessionFactory
from workflows.registry import Registry


@dataclass
class AppState:
    settings: Settings
    registry: Registry | None
    client: Client | None = None
    session_factory: SessionFactory | None = None
    public_key_b64: str | None = None


def app_state(request: Request) -> AppState:
    return request.app.state.zhidu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(app_state)]


def get_session_factory(st: StateDep) -> SessionFactory:
    if st.session_factory is None:
        raise ServiceError(503, "database not configured")
    return st.session_factory


SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]


def get_client(st: StateDep) -> Client:
    if st.client is None:
        raise ServiceError(503, "Temporal not connected")
    return st.client


ClientDep = Annotated[Client, Depends(get_client)]
