"""Sign-in, sessions, roles, CSRF and the per-request audited archive, as FastAPI dependencies.

Every router but the sign-in page and the static files is built with
``dependencies=[Depends(require_role(...)), Depends(audited_archive)]``: no route can forget
to check the session, the role or to read through an archive that records the signed-in
user in the audit log (``tests/test_web.py`` walks ``app.routes`` to make sure).

- ``current_session``: the session cookie names a live server-side session (else the page
  redirects to /login, the API answers 401). A form, htmx request or API call that changes
  anything (any method but GET/HEAD/OPTIONS) must carry the session's CSRF token, in the
  ``csrf_token`` field or the ``X-CSRF-Token`` header (else 403). A user holding a one-time
  password may only change it or sign out.
- ``require_role``: the user's role is one of those named (else 403).
- ``audited_archive``: the archive read as (user, "chartclerk web from <address>").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from chartclerk.store import Archive
from chartclerk.store.audit import Actor
from chartclerk.store.users import User, WebSession

if TYPE_CHECKING:
    from chartclerk.web.app import WebState

__all__ = [
    "ArchiveDep",
    "CsrfRefused",
    "Forbidden",
    "MustChangePassword",
    "NotSignedIn",
    "SessionDep",
    "audited_archive",
    "client_address",
    "current_session",
    "is_role_check",
    "require_role",
    "session_token",
    "web_state",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_PASSWORD_PATHS = frozenset({"/password", "/logout", "/api/session"})


class NotSignedIn(Exception):
    """No live session: the page sends the browser to /login, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but this role may not do that (403)."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token (403)."""


class MustChangePassword(Exception):
    """Signed in with a one-time password: only /password until it is changed."""


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_token(request: Request) -> str | None:
    return request.cookies.get(web_state(request).cookie_name)


async def current_session(request: Request) -> WebSession:
    """The signed-in user's live session (see the module doc)."""
    cached: WebSession | None = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    state = web_state(request)
    token = session_token(request)
    found = await run_in_threadpool(state.users.session, token, state.policy) if token else None
    if found is None or token is None:
        raise NotSignedIn()
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and _is_form(request):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not secrets.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise CsrfRefused()
    if found.user.must_change and request.url.path not in _PASSWORD_PATHS:
        raise MustChangePassword()
    request.state.session = found
    request.state.token = token
    return found


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


@dataclass(frozen=True, slots=True)
class _RoleCheck:
    roles: tuple[str, ...]

    def __call__(self, session: Annotated[WebSession, Depends(current_session)]) -> User:
        if session.user.role not in self.roles:
            raise Forbidden()
        return session.user


def require_role(*roles: str) -> Callable[..., User]:
    """A dependency letting only these roles through (403 otherwise)."""
    return _RoleCheck(tuple(roles))


def audited_archive(request: Request, session: Annotated[WebSession, Depends(current_session)]) -> Archive:
    """The archive, reading as the signed-in user from the request's address: every read a
    route makes through it is recorded under that user in the audit log."""
    actor = Actor(session.user.name, f"chartclerk web from {client_address(request)}")
    return web_state(request).archive.with_actor(actor)


def is_role_check(dependency: Any) -> bool:
    return isinstance(dependency, _RoleCheck)


SessionDep = Annotated[WebSession, Depends(current_session)]
ArchiveDep = Annotated[Archive, Depends(audited_archive)]
