"""People who sign in to the web app, their server-side sessions and sign-in attempts.

Passwords are kept as argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended profile). A session is a random token in an HttpOnly cookie; the database keeps
only its SHA-256, with the CSRF token of its forms, who it belongs to, when it began and
when it was last used. A session ends when its user signs out, when it has been idle
longer than the policy's idle timeout, when it reaches the absolute cap, and when its
user is disabled or gets a new password; an ended session is never valid again.

Every sign-in attempt is written to ``login_attempts`` and to the audit log (same hash chain
as every read, same transaction). Lockout: once a name, or an address, has ``max_failures``
failed attempts within the lockout window, further attempts are refused without looking at
the password until the window has passed. Attempts are counted by the name typed, whether
or not such a user exists, so a refusal tells nothing about which names exist.

The clock is injected (:class:`Clock`), so tests control idle and absolute expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.store.audit import Actor, append_entry
from chartclerk.store.db import session_scope
from chartclerk.store.tables import LoginAttemptRow, SessionRow, UserRow

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "Clock",
    "LoginPolicy",
    "LoginRefused",
    "Role",
    "SignIn",
    "User",
    "UserStore",
    "WebSession",
    "system_clock",
]

log = logging.getLogger(__name__)

Role = Literal["clerk", "auditor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 12
_NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")
_TOUCH_EVERY = dt.timedelta(seconds=5)  # last_seen_at is written at most this often per session

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoginRefused(ArchiveError):
    """A sign-in was refused: wrong name or password, locked out, or disabled (one message)."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=15)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    max_failures: int = 5  # per name within the window
    max_failures_per_address: int = 20
    lockout_window: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    must_change: bool
    created_at: dt.datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "must_change_password": self.must_change,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class WebSession:
    user: User
    csrf_token: str
    address: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    last_query: str | None


@dataclass(frozen=True, slots=True)
class SignIn:
    token: str  # goes in the cookie; only its hash is stored
    session: WebSession


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: UserRow) -> User:
    role: Role = row.role  # type: ignore[assignment]  # the CHECK constraint holds it to ROLES
    return User(row.id, row.name, role, bool(row.disabled), bool(row.must_change), row.created_at)


def one_time_password() -> str:
    """20 random characters from an alphabet without look-alikes (about 115 bits)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


class UserStore:
    """Users, sessions and sign-in attempts in the archive database."""

    def __init__(
        self,
        engine: Engine,
        writer: Engine,
        *,
        clock: Clock = system_clock,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))  # same cost for unknown names

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- users --------------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str | None = None) -> tuple[User, str | None]:
        """Create a user. Without ``password`` a one-time password is made and returned (it must be
        changed at first sign-in)."""
        name = _check_name(name)
        if role not in ROLES:
            raise ArchiveError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        temporary = password is None
        secret = one_time_password() if password is None else _check_password(password)
        now = self._clock()
        try:
            with session_scope(self._writer) as session:
                row = UserRow(
                    name=name,
                    role=role,
                    password_hash=self._hasher.hash(secret),
                    must_change=temporary,
                    disabled=False,
                    created_at=now,
                    password_changed_at=now,
                )
                session.add(row)
                session.flush()
                user = _user(row)
        except ArchiveError as e:
            if isinstance(e.__cause__, IntegrityError):
                raise ArchiveError(f"user {name} already exists") from e
            raise
        log.info("user %d added (%s)", user.id, role)
        return user, secret if temporary else None

    def list(self) -> list[User]:
        with session_scope(self._engine) as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def get(self, name: str) -> User:
        with session_scope(self._engine) as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name.strip().lower()))
            if row is None:
                raise NotFoundError(f"no user named {name}")
            return _user(row)

    def disable(self, name: str) -> User:
        """Disable a user and end their sessions."""
        with session_scope(self._writer) as session:
            row = self._row(session, name)
            row.disabled = True
            self._end_sessions(session, row.id)
            return _user(row)

    def reset(self, name: str) -> str:
        """A new one-time password (returned), enabled again, sessions ended, lockout lifted."""
        secret = one_time_password()
        with session_scope(self._writer) as session:
            row = self._row(session, name)
            row.password_hash = self._hasher.hash(secret)
            row.must_change = True
            row.disabled = False
            row.password_changed_at = self._clock()
            self._end_sessions(session, row.id)
            session.add(LoginAttemptRow(at=self._clock(), name=row.name, address="reset", ok=True))
        return secret

    def change_password(self, user_id: int, old: str, new: str, keep_token: str) -> None:
        """The user sets their own password (after a one-time one): the old one must verify; their
        other sessions end."""
        new = _check_password(new)
        if new == old:
            raise ArchiveError("the new password must differ from the old one")
        with session_scope(self._writer) as session:
            row = session.get(UserRow, user_id)
            if row is None or row.disabled or not self._verify(row.password_hash, old):
                raise LoginRefused("the current password is wrong")
            row.password_hash = self._hasher.hash(new)
            row.must_change = False
            row.password_changed_at = self._clock()
            self._end_sessions(session, row.id, keep=_hash_token(keep_token))

    def _row(self, session: Session, name: str) -> UserRow:
        row = session.scalar(select(UserRow).where(UserRow.name == name.strip().lower()))
        if row is None:
            raise NotFoundError(f"no user named {name}")
        return row

    def _end_sessions(self, session: Session, user_id: int, keep: str | None = None) -> None:
        query = update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.ended_at.is_(None))
        if keep is not None:
            query = query.where(SessionRow.token_hash != keep)
        session.execute(query.values(ended_at=self._clock()))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # -- sign-in and sessions ---------------------------------------------------------------------------

    def sign_in(self, name: str, password: str, address: str, policy: LoginPolicy) -> SignIn:
        """Check the password and open a session; every attempt is recorded and audited.

        Raises LoginRefused (one message for an unknown name, a wrong password and a disabled
        user; another for a lockout)."""
        name = " ".join(name.split()).lower()[:64]
        address = address[:64]
        now = self._clock()
        since = now - policy.lockout_window
        actor = Actor(name or "(no name)", f"chartclerk web from {address}")
        with session_scope(self._writer) as session:
            failures = select(func.count()).select_from(LoginAttemptRow)
            failures = failures.where(LoginAttemptRow.at >= since, LoginAttemptRow.ok.is_(False))
            by_name = session.scalar(failures.where(LoginAttemptRow.name == name)) or 0
            by_address = session.scalar(failures.where(LoginAttemptRow.address == address)) or 0
            locked = by_name >= policy.max_failures or by_address >= policy.max_failures_per_address
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            if locked:
                ok = False
            else:
                ok = self._verify(row.password_hash if row else self._dummy_hash, password)
                ok = ok and row is not None and not row.disabled
            session.add(LoginAttemptRow(at=now, name=name, address=address, ok=ok))
            outcome = "locked out" if locked else "signed in" if ok else "refused"
            append_entry(session, actor, "login", {"user": name, "outcome": outcome, "address": address}, [])
            if ok and row is not None:
                token = secrets.token_urlsafe(32)
                session.add(
                    SessionRow(
                        token_hash=_hash_token(token),
                        user_id=row.id,
                        csrf_token=secrets.token_urlsafe(32),
                        address=address,
                        created_at=now,
                        last_seen_at=now,
                        ended_at=None,
                    )
                )
                user = _user(row)
        if locked:
            log.warning("sign-in refused: locked out")
            raise LoginRefused("Too many failed sign-ins. Try again later.", locked=True)
        if not ok:
            log.info("sign-in refused")
            raise LoginRefused("Wrong user name or password.")
        log.info("user %d signed in", user.id)
        found = self.session(token, policy)
        assert found is not None
        return SignIn(token, found)

    def session(self, token: str, policy: LoginPolicy) -> WebSession | None:
        """The live session of this cookie token, or None. A session found idle too long or past
        the absolute cap is ended for good; a live one has its last use brought up to date."""
        if not token or len(token) > 128:
            return None
        now = self._clock()
        key = _hash_token(token)
        with session_scope(self._engine) as session:
            found = session.execute(
                select(SessionRow, UserRow)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.token_hash == key)
            ).first()
            if found is None:
                return None
            row, user_row = found
            live = (
                row.ended_at is None
                and not user_row.disabled
                and now - row.last_seen_at <= policy.idle
                and now - row.created_at <= policy.absolute
            )
            result = WebSession(
                _user(user_row), row.csrf_token, row.address, row.created_at, now, row.last_query
            )
            ended, seen = row.ended_at, row.last_seen_at
        if not live:
            if ended is None:
                self._end(key, now)
            return None
        if now - seen >= _TOUCH_EVERY:
            with session_scope(self._writer) as session:
                session.execute(
                    update(SessionRow)
                    .where(SessionRow.token_hash == key, SessionRow.ended_at.is_(None))
                    .values(last_seen_at=now)
                )
        return result

    def sign_out(self, token: str) -> None:
        self._end(_hash_token(token), self._clock())

    def _end(self, key: str, now: dt.datetime) -> None:
        with session_scope(self._writer) as session:
            session.execute(
                update(SessionRow)
                .where(SessionRow.token_hash == key, SessionRow.ended_at.is_(None))
                .values(ended_at=now)
            )

    def remember_query(self, token: str, query: str | None) -> None:
        """Keep the session's last search (for the viewer's hit boxes), never put in a URL."""
        with session_scope(self._writer) as session:
            session.execute(
                update(SessionRow)
                .where(SessionRow.token_hash == _hash_token(token))
                .values(last_query=None if query is None else query[:1000])
            )


def _check_name(name: str) -> str:
    name = name.strip().lower()
    if not _NAME.fullmatch(name):
        raise ArchiveError("a user name is 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter")
    return name


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ArchiveError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise ArchiveError("a password has at most 1024 characters")
    return password
