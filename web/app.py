"""The FastAPI application: `create_app(settings)` wires routers, errors and the lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from embeddings.base import EmbeddingProvider
from embeddings.check import log_namespace_check
from search.store import compact_in_background, warm_up_in_background
from web.api_docs import install_api_docs
from web.errors import API_ERROR_RESPONSES, install_error_handlers
from web.guard import Limits, RequestGuard
from web.login import LoginGate
from web.login import router as login_router
from web.login_throttle import LoginThrottle
from web.routers import answers, clusters, documents, jobs, preview, search, status
from web.routers.documents import MAX_FILES_PER_REQUEST
from web.same_origin import SameOriginGuard, declare_refusals
from web.security_headers import SecurityHeaders
from web.services import Services, open_services
from web.settings import Settings

log = logging.getLogger("semsearch")


def check_namespace_in_background(services: Services) -> None:
    """With EMBEDDINGS_ENDPOINT_NAMESPACE, the endpoint is compared with its namespace's
    Inference Endpoints as the server starts, and the outcome logged; the server does not wait."""
    configured = services.settings.embeddings()
    if services.embeddings.provider == "endpoint" and configured.endpoint_namespace:
        threading.Thread(
            target=log_namespace_check, args=(configured,), name="namespace-check", daemon=True
        ).start()


def create_app(settings: Settings, *, embedder: EmbeddingProvider | None = None) -> FastAPI:
    """The app for these settings; ``embedder`` lets a caller share an already loaded model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_services(settings, embedder=embedder) as services:
            app.state.services = services
            # The embedded store's graph is built in another process, once at start and when
            # enough was written (search.edge_graph); searches never wait for it.
            stop_compaction = compact_in_background(services.store)
            warm_up_in_background(services.store)
            check_namespace_in_background(services)
            resumed = services.jobs.resume()
            if resumed:
                log.warning("resuming %d uploads an earlier run had not finished", len(resumed))
            try:
                yield
            finally:
                if stop_compaction is not None:
                    stop_compaction()

    app = FastAPI(
        title="semsearch",
        summary="Semantic search over your documents",
        version="0.1.0",
        lifespan=lifespan,
        # Served by web.api_docs from the app's own files, not FastAPI's CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.login_throttle = LoginThrottle()
    # Middleware added later wraps what came before: the order a request meets them is
    # SecurityHeaders, SameOriginGuard, LoginGate, RequestGuard, then the routes.
    # RequestGuard, innermost: it answers before any route reads a body.
    app.add_middleware(
        RequestGuard,
        limits=Limits(
            api_key=settings.api_key.get_secret_value(),
            upload_request_bytes=settings.max_request_bytes,
            max_files=MAX_FILES_PER_REQUEST,
        ),
    )
    # Outside the guard: the pages' login and CSRF (web.login); it reads no body either.
    app.add_middleware(LoginGate, api_key=settings.api_key.get_secret_value())
    # Before the login: a request from another site, or for a Host the app does not serve,
    # goes no further, whatever the key (web.same_origin).
    app.add_middleware(SameOriginGuard, allowed_hosts=settings.allowed_host_names)
    # Outermost, so that even the guards' refusals carry them (Starlette's own 500 handler
    # sits outside every middleware: an unexpected error's page does not).
    app.add_middleware(SecurityHeaders)
    install_api_docs(app)  # before /static: its assets are under /static/api-docs
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for feature in (search, documents, jobs, clusters, status):
        app.include_router(feature.pages)
        app.include_router(feature.api, responses=API_ERROR_RESPONSES)
    app.include_router(preview.api, responses=API_ERROR_RESPONSES)
    app.include_router(answers.api, responses=API_ERROR_RESPONSES)
    app.include_router(login_router)
    declare_refusals(app)
    return app
