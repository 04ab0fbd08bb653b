"""The web app: ``create_app(settings)`` opens the archive and wires the routers, the security
middleware and the error pages. ``chartclerk serve`` runs it under uvicorn."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chartclerk.errors import ArchiveError, ChartclerkError, InputFileError, NotFoundError
from chartclerk.settings import Settings
from chartclerk.store import Archive
from chartclerk.store.users import Clock, LoginPolicy, UserStore, system_clock
from chartclerk.web.auth import CsrfRefused, Forbidden, MustChangePassword, NotSignedIn
from chartclerk.web.images import PageImages
from chartclerk.web.uploads import Uploads

__all__ = ["WebState", "create_app"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("chartclerk.web.access")

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
HTMX = "htmx-2.0.11.min.js"  # pinned, vendored with its licence (static/htmx-LICENSE.txt)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@dataclass
class WebState:
    settings: Settings
    archive: Archive
    users: UserStore
    policy: LoginPolicy
    images: PageImages
    uploads: Uploads
    templates: Jinja2Templates
    secure: bool

    @property
    def cookie_name(self) -> str:
        # __Host- cookies must be Secure, for the whole host, and set by it: no subdomain can plant one.
        return "__Host-chartclerk" if self.secure else "chartclerk_session"

    @property
    def login_cookie_name(self) -> str:
        return "__Host-chartclerk-login" if self.secure else "chartclerk_login"


def _default_executor(settings: Settings) -> Callable[[], Executor]:
    def make() -> Executor:
        from chartclerk.workers import make_executor

        return make_executor(settings.model_copy(update={"workers": settings.web.upload_workers}))

    return make


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    secure: bool | None = None,
    make_executor: Callable[[], Executor] | None = None,
    hasher: PasswordHasher | None = None,
) -> FastAPI:
    """The app over the archive of ``settings``. ``secure``: serve Secure cookies (TLS); default
    ``settings.web.secure_cookies`` or False. ``clock``, ``make_executor`` and ``hasher`` (cheaper
    argon2id parameters) are for tests."""
    from chartclerk.store.db import write_engine
    from chartclerk.web import api, deficiencies, fhir, pages, release

    web = settings.web
    policy = LoginPolicy(
        idle=dt.timedelta(minutes=web.idle_timeout_minutes),
        absolute=dt.timedelta(hours=web.absolute_timeout_hours),
        max_failures=web.max_failed_logins,
        max_failures_per_address=web.max_failed_logins_per_address,
        lockout_window=dt.timedelta(minutes=web.lockout_minutes),
    )
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["htmx"] = HTMX
    templates = Jinja2Templates(env=env)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state: WebState = app.state.web
        state.uploads.close()
        state.archive.close()

    app = FastAPI(
        title="chartclerk",
        summary="Search and view the archived scans, the patient's chart, the review queue.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads scripts from a CDN: not under this CSP
        redoc_url=None,
        openapi_url=None,  # served by api.openapi, behind the sign-in like every route
    )
    archive = Archive.open(settings)
    app.state.web = WebState(
        settings=settings,
        archive=archive,
        users=UserStore(archive.engine, write_engine(archive.engine), clock=clock, hasher=hasher),
        policy=policy,
        images=PageImages(settings.archive / "cache" / "pages", web, settings.ingest),
        uploads=Uploads(settings, make_executor or _default_executor(settings)),
        templates=templates,
        secure=web.secure_cookies if secure is None and web.secure_cookies is not None else bool(secure),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.public)
    for router in pages.routers + api.routers + fhir.routers + release.routers + deficiencies.routers:
        app.include_router(router)
    _error_handlers(app)
    app.add_middleware(
        SecurityMiddleware,
        max_body=web.max_upload_mb * 1024 * 1024 + 65536,
        secure=app.state.web.secure,
        cookie=app.state.web.cookie_name,
    )
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    state: WebState = request.app.state.web
    # A 404 page is the same whatever was asked and whoever asked (nothing told by its shape).
    session = None if status == 404 else getattr(request.state, "session", None)
    partial = request.headers.get("hx-request") == "true"  # htmx swaps it where the answer goes
    return state.templates.TemplateResponse(
        request,
        "partials/error.html" if partial else "error.html",
        {"title": title, "message": message, "session": session},
        status_code=status,
    )


def _error_handlers(app: FastAPI) -> None:
    async def not_signed_in(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "sign in first"}, status_code=401)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _error_page(request, 403, "Not allowed", "Your role does not allow this page.")

    async def csrf(request: Request, exc: Exception) -> Response:
        return _error_page(
            request, 403, "Form expired", "This form was not sent by this session. Reload the page and retry."
        )

    async def must_change(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "change your one-time password first"}, status_code=403)
        return RedirectResponse("/password", status_code=303)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error_page(request, 404, "Not found", "There is no such page or document.")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return _error_page(request, exc.status_code, "Error", str(exc.detail))

    async def validation(request: Request, exc: Exception) -> Response:
        return _error_page(request, 422, "Bad request", "Some fields are missing or not valid.")

    async def bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChartclerkError)
        status = 415 if isinstance(exc, InputFileError) else 400
        return _error_page(request, status, "Not done", exc.message)

    async def archive_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChartclerkError)
        log.error("request failed: %s", type(exc).__name__)
        return _error_page(request, 400, "Not done", exc.message)

    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(MustChangePassword, must_change)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(InputFileError, bad_input)
    app.add_exception_handler(ArchiveError, archive_error)
    app.add_exception_handler(ChartclerkError, archive_error)


_ANONYMOUS_BODY = 64 * 1024  # largest body read from a request without a session cookie


class _TooLarge(BaseException):  # noqa: N818 - not an Exception: FastAPI turns those into 400s
    pass


class SecurityMiddleware:
    """Set once for every response: CSP without inline script, no framing, no referrer, no
    sniffing, no caching of PHI (pages set their own validators); refuse bodies over the upload
    limit, or over 64 kB without a session cookie (413); log each request as method, path (never
    the query string), status and time."""

    def __init__(self, app: ASGIApp, *, max_body: int, secure: bool, cookie: str) -> None:
        self.app = app
        self.max_body = max_body
        self.cookie = cookie.encode() + b"="
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", CSP.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if secure:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [0]
        headers = dict(scope["headers"])
        # Without a session cookie only the sign-in form can be meant: no large body is read
        # (FastAPI reads a body before the sign-in check runs).
        signed = self.cookie in headers.get(b"cookie", b"")
        limit = self.max_body if signed else _ANONYMOUS_BODY
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(send)
            self._log(scope, 413, start)
            return
        seen = [0]

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise _TooLarge()
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                headers.extend(self.headers)
                if b"cache-control" not in names:
                    # static files: revalidated (ETag) before use; everything else may hold PHI
                    static = scope["path"].startswith("/static/")
                    headers.append((b"cache-control", b"no-cache" if static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted, with_headers)
        except _TooLarge:
            if not status[0]:
                await self._too_large(send)
                status[0] = 413
        self._log(scope, status[0], start)

    async def _too_large(self, send: Send) -> None:
        body = b'{"error": "the upload is too large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), *self.headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _log(self, scope: Scope, status: int, start: float) -> None:
        access_log.info(
            "%s %s %d %.1f ms", scope["method"], scope["path"], status, (time.perf_counter() - start) * 1000
        )


def serve(settings: Settings, host: str, port: int, certfile: Path | None, keyfile: Path | None) -> None:
    """Run the app under uvicorn (one process; uploads and page rendering in threads)."""
    import uvicorn

    secure = certfile is not None if settings.web.secure_cookies is None else settings.web.secure_cookies
    app = create_app(settings, secure=secure)
    config: dict[str, Any] = {
        "host": host, "port": port, "access_log": False, "log_config": None, "server_header": False,
    }  # fmt: skip
    if certfile is not None:
        config.update(ssl_certfile=str(certfile), ssl_keyfile=str(keyfile) if keyfile else None)
    uvicorn.run(app, **config)
