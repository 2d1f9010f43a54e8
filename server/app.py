"""The FastAPI application: ``create_app(settings)`` wires everything; nothing is read at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.couch import CouchClient
from server.admin.endpoints import router as admin_router
from server.auth.endpoints import router as auth_router
from server.auth.tokens import KeyRing
from server.core import handlers
from server.core.metrics import Metrics, MetricsMiddleware
from server.core.state import AppState
from server.feed.endpoints import router as feed_router
from server.forms.endpoints import router as forms_router
from server.gateway.access import SyncAccess, scope_reader
from server.gateway.endpoints import SyncEndpoint
from server.gateway.service import Gateway
from server.gateway.upstream import Upstream
from server.gateway.validation import FormsValidator, GatewayRules, ValidatorChain
from server.health.endpoints import router as health_router
from server.review.endpoints import router as review_router
from server.web.pages import router as web_router
from simpul.db import make_async_engine
from simpul.schema import create_tables
from simpul.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings.resolved_database_url)
        await create_tables(engine)
        sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        couch = CouchClient(settings.resolved_couchdb_url, max_connections=settings.couchdb_max_connections)
        keys = KeyRing.from_settings(settings)
        # The cheap gateway rules first: an oversize document is refused before its images are decoded.
        validator = ValidatorChain([GatewayRules(settings.max_document_bytes), FormsValidator.from_settings(settings)])
        # The gateway's own pool to CouchDB (aiohttp: a fraction of httpx's cost per request on the relay path).
        upstream = Upstream(settings.resolved_couchdb_url, max_connections=settings.couchdb_max_connections)
        scope = scope_reader(engine)
        gateway = Gateway(
            upstream,
            SyncAccess(keys, sessions, scope),
            validator,
            metrics,
            max_batch_bytes=settings.max_batch_bytes,
            longpoll_max_s=settings.longpoll_max_s,
            max_batch_docs=settings.max_batch_docs,
            body_idle_timeout_s=settings.body_idle_timeout_s,
        )
        app.state.simpul = AppState(settings, engine, sessions, couch, keys, metrics, gateway)
        try:
            yield
        finally:
            await upstream.aclose()
            await scope.aclose()
            await couch.aclose()
            await engine.dispose()

    # No slash redirects: a replicator must never be redirected (PROTOCOL.md), it gets JSON or nothing.
    app = FastAPI(title="Simpul", version="0.1.0", lifespan=lifespan, redirect_slashes=False)
    handlers.install(app)
    app.include_router(auth_router)
    app.include_router(forms_router)
    app.include_router(health_router)
    app.include_router(admin_router)
    app.include_router(feed_router)
    app.include_router(review_router)
    app.include_router(web_router)
    # /sync is answered by the gateway's own lean endpoint, inside the metrics middleware (see its docstring).
    app.add_middleware(SyncEndpoint)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
