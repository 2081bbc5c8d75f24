"""`create_app(settings)`: routes, error rendering, and the lifespan that owns Store and Hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from realtime.backups import AutoBackup
from realtime.config import ConfigError, Settings, load_settings
from realtime.errors import AppError, MethodNotAllowed, NotFound, from_validation
from realtime.live.backfill import StoreBackfill
from realtime.live.factory import make_hub
from realtime.models import ErrorBody, ErrorDetail
from realtime.service import CommentService
from realtime.store import Store
from realtime.topics import COUNT_PREFIX
from realtime.web import admin, http, lognoise, notify, sse, ws
from realtime.web.counts_cache import CountsCache
from realtime.web.descriptors import DESCRIPTORS, DescriptorBudget
from realtime.web.feeds import Feeds
from realtime.web.files import static_dir
from realtime.web.gc_freeze import frozen
from realtime.web.lean_ws import LEAN_WS, LeanEndpoints
from realtime.web.metrics import Metrics, TimingMiddleware
from realtime.web.openapi import openapi_route
from realtime.web.pages import Pages, client_settings

log = logging.getLogger("realtime")
_encode = msgspec.json.Encoder().encode


def page_headers(settings: Settings) -> dict[str, str]:
    ancestors = " ".join(["'self'", *settings.frame_ancestors])
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def client_config(settings: Settings) -> Route:
    """`GET /api/config`: what the browser client checks before sending (bounds, edit window)."""
    body = _encode(client_settings(settings))

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Route("/api/config", endpoint, methods=["GET"])


def error_response(error: AppError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return Response(_encode(error.body()), error.status, headers, media_type="application/json")


async def on_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, msgspec.ValidationError)
    return error_response(from_validation(exc))


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound("no such endpoint"))
    if exc.status_code == 405:
        response = error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
        # Starlette joins a set (no stable order), and StaticFiles sends no Allow at all.
        allowed = (exc.headers or {}).get("Allow", "GET, HEAD")
        response.headers["Allow"] = ", ".join(sorted(m.strip() for m in allowed.split(",")))
        return response
    body = ErrorBody(ErrorDetail(exc.status_code, "http_error", str(exc.detail)))
    return Response(_encode(body), exc.status_code, exc.headers, media_type="application/json")


async def on_server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc)
    body = ErrorBody(ErrorDetail(500, "internal", "internal error"))
    return Response(_encode(body), 500, media_type="application/json")


def background(
    service: CommentService, backups: AutoBackup | None
) -> list[Coroutine[Any, Any, None]]:
    """What runs beside the requests for as long as the server does."""
    jobs = [service.announce_watchers(), service.moderators.watch()]
    jobs += [service.bans.watch(), service.bans.sweep()]
    if backups is not None:
        jobs.append(backups.run())
    return jobs


def reload_on_hangup(service: CommentService, reload: Callable[[], Settings]) -> None:
    """SIGHUP reloads the word lists (in the main thread only: servers in tests run in others)."""

    def hangup() -> None:
        try:
            service.reload_words(reload())
        except ConfigError as exc:
            log.error("SIGHUP: the settings were not reloaded: %s", exc)

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hangup)


def auto_backup(settings: Settings) -> AutoBackup | None:
    if not settings.backup_interval_minutes:
        return None
    backups = AutoBackup(settings)
    backups.start()
    return backups


def create_app(settings: Settings, reload: Callable[[], Settings] | None = None) -> Starlette:
    """The app; `reload` gives fresh settings for SIGHUP and the admin page (the word lists)."""
    files = static_dir()
    headers = page_headers(settings)
    descriptors = DescriptorBudget()
    metrics = Metrics(descriptors)
    pages = Pages(settings, headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        store = await Store.from_settings(settings)
        try:
            backups = auto_backup(settings)
        except BaseException:
            await store.close()
            raise
        hub = make_hub(
            settings.hub, settings.reader_backlog_bytes, StoreBackfill(store), settings.db
        )
        await hub.start()
        service = CommentService(settings, store, hub)
        await service.render_missing()
        app.state.service = service
        hub.observe(COUNT_PREFIX, app.state.counts_cache.changed)
        metrics.bind(service, backups)
        reload_on_hangup(service, app.state.reload_settings)
        tasks = [asyncio.create_task(job) for job in background(service, backups)]
        descriptors.install(asyncio.get_running_loop())
        await service.notifier.start()
        lean = LeanEndpoints(service, settings)
        try:
            with (
                metrics.watching_stalls(settings.loop_stall_log_ms / 1000),
                frozen(settings.gc_freeze == "on"),
            ):
                # uvicorn hands the lifespan state to every connection
                yield {DESCRIPTORS: descriptors, LEAN_WS: lean}
        finally:
            lean.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await service.notifier.stop()  # hands unfinished attempts back, through the store
            await store.close()  # its last commits publish through the hub, so it closes first
            service.votes.events.flush()  # the last vote events, not yet sent
            await hub.close()
            lognoise.flush()

    routes = [
        *http.routes,
        *admin.routes,
        *notify.routes,
        openapi_route(),
        *ws.routes,
        *sse.routes,
        client_config(settings),
        *pages.routes(),
        *Feeds(pages.env, pages.t, settings.feed_size).routes(),
        Route("/metrics", metrics.endpoint),
        Mount("/static", StaticFiles(directory=files, check_dir=False), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(TimingMiddleware, metrics=metrics),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
                expose_headers=["Location", "Retry-After"],
                max_age=600,
            ),
        ],
        exception_handlers={
            AppError: on_app_error,
            msgspec.ValidationError: on_validation_error,
            HTTPException: on_http_exception,
            Exception: on_server_error,
        },
    )
    app.state.settings = settings
    app.state.reload_settings = reload or (lambda: settings)
    app.state.counts_cache = CountsCache(settings.counts_cache_seconds)
    app.state.pages = pages  # also renders the pages of the signed links (web/notify.py)
    return app


# `realtime serve --workers N`: the parent resolves the settings once and hands them to each worker.
SETTINGS_ENV = "_REALTIME_SETTINGS"  # not REALTIME_*: `load_settings` refuses unknown keys
CONFIG_ENV = "_REALTIME_CONFIG"  # the --config file, which SIGHUP reads again
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def app_from_environ() -> Starlette:
    """The app factory uvicorn's workers call (`realtime.web.app:app_from_environ`)."""
    settings = msgspec.json.decode(os.environ[SETTINGS_ENV], type=Settings)
    # A spawned worker starts with no logging set up: set it up as `realtime` did in the parent.
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    lognoise.install()
    reload = reloader(os.environ.get(CONFIG_ENV) or None)
    # uvicorn restarts the workers on SIGHUP to the parent: each reads the word lists afresh.
    return create_app(with_words(settings, reload()), reload)


def reloader(config_file: str | None) -> Callable[[], Settings]:
    """Settings read again from the same file and environment (for the word lists)."""
    return lambda: load_settings(config_file)


def with_words(settings: Settings, fresh: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, hold_words=fresh.hold_words, refuse_words=fresh.refuse_words
    )
