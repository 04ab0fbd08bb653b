"""The HTML pages. Each route parses the request, calls one function of ``views`` (or one library
method) and renders a template; htmx requests get the page's partial. Their JSON twins are in
``api``. No PHI in URLs: search words, MRNs and filters travel in POST bodies; URLs carry only
document ids, page numbers and staff user names."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from chartclerk.classify import DOC_TYPES, LOINC, read_roster_csv
from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.store.lookup import find_patients
from chartclerk.store.users import ROLES, LoginRefused, WebSession
from chartclerk.web.auth import (
    ArchiveDep,
    SessionDep,
    audited_archive,
    client_address,
    require_role,
    session_token,
    web_state,
)
from chartclerk.web.uploads import queue_uploads
from chartclerk.web.views import (
    SearchForm,
    audit_view,
    chart_view,
    document_view,
    parse_id,
    patient_json,
    review_view,
    search_view,
)

__all__ = ["public", "routers"]

ANY_ROLE = require_role(*ROLES)
CLERK = require_role("clerk")
AUDITOR = require_role("auditor")
ADMIN = require_role("admin")

public = APIRouter(include_in_schema=False)
common = APIRouter(dependencies=[Depends(ANY_ROLE), Depends(audited_archive)], include_in_schema=False)
clerk = APIRouter(dependencies=[Depends(CLERK), Depends(audited_archive)], include_in_schema=False)
auditor = APIRouter(dependencies=[Depends(AUDITOR), Depends(audited_archive)], include_in_schema=False)
admin = APIRouter(dependencies=[Depends(ADMIN), Depends(audited_archive)], include_in_schema=False)
routers = [common, clerk, auditor, admin]

HOME = {"clerk": "/search", "auditor": "/audit", "admin": "/users"}
Text = Annotated[str, Form(max_length=1000)]
OptText = Annotated[str | None, Form(max_length=200)]


def render(
    request: Request, template: str, data: dict[str, Any], *, status: int = 200, **extra: Any
) -> Response:
    state = web_state(request)
    session: WebSession | None = getattr(request.state, "session", None)
    context = {"data": data, "session": session, "types": DOC_TYPES, **extra}
    return state.templates.TemplateResponse(request, template, context, status_code=status)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def form_date(value: str | None) -> dt.date | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise ArchiveError("dates are YYYY-MM-DD") from e


# -- sign-in --------------------------------------------------------------------------------------


@public.get("/login")
def login_page(request: Request) -> Response:
    state = web_state(request)
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {"login_token": token, "error": None})
    _set_cookie(response, state.login_cookie_name, token, state.secure)
    return response


@public.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=100)],
) -> Response:
    state = web_state(request)
    cookie = request.cookies.get(state.login_cookie_name, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), login_token.encode()):
        return render(request, "error.html", {}, status=403, title="Form expired",
                      message="This sign-in form has expired. Reload the page and retry.")  # fmt: skip
    try:
        signed = state.users.sign_in(name, password, client_address(request), state.policy)
    except LoginRefused as e:
        fresh = secrets.token_urlsafe(32)
        status = 429 if e.locked else 401
        response = render(request, "login.html", {"login_token": fresh, "error": e.message}, status=status)
        _set_cookie(response, state.login_cookie_name, fresh, state.secure)
        return response
    response = RedirectResponse("/", status_code=303)
    _set_cookie(response, state.cookie_name, signed.token, state.secure)
    response.delete_cookie(
        state.login_cookie_name, path="/", secure=state.secure, httponly=True, samesite="strict"
    )
    return response


def _set_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(name, value, path="/", secure=secure, httponly=True, samesite="strict")


@common.get("/")
def home(session: SessionDep) -> Response:
    return RedirectResponse(HOME[session.user.role], status_code=303)


@common.post("/logout")
def logout(request: Request) -> Response:
    state = web_state(request)
    token = session_token(request)
    if token:
        state.users.sign_out(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(state.cookie_name, path="/", secure=state.secure, httponly=True, samesite="strict")
    return response


@common.get("/password")
def password_page(request: Request) -> Response:
    return render(request, "password.html", {"error": None})


@common.post("/password")
def change_password(
    request: Request,
    session: SessionDep,
    old: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    again: Annotated[str, Form(max_length=1024)],
) -> Response:
    state = web_state(request)
    try:
        if new != again:
            raise ArchiveError("the two new passwords differ")
        state.users.change_password(session.user.id, old, new, session_token(request) or "")
    except ArchiveError as e:
        return render(request, "password.html", {"error": e.message}, status=400)
    request.state.session = None
    return RedirectResponse("/", status_code=303)


# -- search ---------------------------------------------------------------------------------------


@clerk.get("/search")
def search_page(request: Request) -> Response:
    return render(request, "search.html", {"query": "", "results": None, "filters": {}, "patients": []})


@clerk.post("/search")
def search(
    request: Request,
    archive: ArchiveDep,
    q: Annotated[str, Form(max_length=1000)] = "",
    patient: OptText = None,
    doc_type: Annotated[str | None, Form(alias="type", max_length=64)] = None,
    status: OptText = None,
    date_from: Annotated[str | None, Form(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Form(alias="to", max_length=10)] = None,
    page: Annotated[int, Form(ge=1, le=100)] = 1,
) -> Response:
    state = web_state(request)
    form = SearchForm(
        q, _blank(patient), _blank(doc_type), _blank(status), form_date(date_from), form_date(date_to), page
    )
    data = search_view(archive, form, state.settings.web.results_per_page)
    state.users.remember_query(session_token(request) or "", q.strip() or None)
    return render(request, "partials/results.html" if _htmx(request) else "search.html", data)


# -- documents ------------------------------------------------------------------------------------


@clerk.get("/documents/{doc_id}")
def viewer(
    request: Request, archive: ArchiveDep, session: SessionDep, doc_id: str, hits: bool = False
) -> Response:
    """``?hits=1`` (links from search results): draw the session's last search on the pages."""
    data = document_view(archive, parse_id(doc_id), session.last_query if hits else None)
    return render(request, "document.html", data)


@clerk.get("/documents/{doc_id}/pages/{number}/{size}")
def page_image(request: Request, archive: ArchiveDep, doc_id: str, number: str, size: str) -> Response:
    if size not in ("screen", "thumb"):
        raise NotFoundError("not found")
    ident, page = parse_id(doc_id), parse_id(number)
    files = archive.document_files(ident)
    if page > files.pages:
        raise NotFoundError("not found")
    image = web_state(request).images.image(files, page, "screen" if size == "screen" else "thumb")
    archive.record_access(
        "page image", {"documents": [ident], "page": page, "size": size}, [files.patient_mrn]
    )
    headers = {
        "ETag": image.etag,
        "Last-Modified": _http_date(image.mtime),
        "Cache-Control": "private, no-cache",  # revalidated (and so audited) each time it is shown
    }
    if request.headers.get("if-none-match") == image.etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(image.path, media_type="image/webp", headers=headers)


def _http_date(mtime: float) -> str:
    return dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


@clerk.get("/documents/{doc_id}/download/{kind}")
def download(archive: ArchiveDep, doc_id: str, kind: str) -> Response:
    if kind not in ("pdf", "original"):
        raise NotFoundError("not found")
    files = archive.document_files(parse_id(doc_id))
    path = files.pdf if kind == "pdf" else files.original
    archive.record_access("download", {"documents": [files.id], "file": kind}, [files.patient_mrn])
    name = f"document-{files.id}.pdf" if kind == "pdf" else f"document-{files.id}-original{path.suffix}"
    media = _MEDIA.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, filename=name)


_MEDIA = {".pdf": "application/pdf", ".tif": "image/tiff", ".tiff": "image/tiff", ".png": "image/png",
          ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}  # fmt: skip


# -- patient chart --------------------------------------------------------------------------------


@clerk.post("/chart")
def chart(request: Request, archive: ArchiveDep, mrn: Annotated[str, Form(max_length=64)]) -> Response:
    return render(request, "chart.html", chart_view(archive, mrn))


# -- review queue ---------------------------------------------------------------------------------


@clerk.get("/review")
def review(request: Request, archive: ArchiveDep) -> Response:
    return render(request, "review.html", {**review_view(archive), "message": None})


@clerk.post("/review/{doc_id}/file")
def file_document(
    request: Request,
    archive: ArchiveDep,
    session: SessionDep,
    doc_id: str,
    mrn: Annotated[str | None, Form(max_length=64)] = None,
    doc_type: Annotated[str | None, Form(alias="type", max_length=64)] = None,
) -> Response:
    ident = parse_id(doc_id)
    new_type = _blank(doc_type)
    if new_type is not None and new_type not in DOC_TYPES:
        raise ArchiveError("unknown document type")
    doc = archive.get_document(ident)
    if new_type == doc["type"]:
        new_type = None
    filed = archive.file_document(
        ident, mrn=_blank(mrn), doc_type=new_type, loinc=LOINC.get(new_type) if new_type else None,
        user=session.user.name,
    )  # fmt: skip
    message = f"Document {filed['id']} filed as {filed['type']}."
    if _htmx(request):
        return render(request, "partials/filed.html", {"message": message, "document": filed})
    return render(request, "review.html", {**review_view(archive), "message": message})


@clerk.post("/review/find")
def find_patient(
    request: Request,
    archive: ArchiveDep,
    q: Annotated[str, Form(max_length=200)],
    doc_id: Annotated[int, Form()],
) -> Response:
    found = [patient_json(p) for p in find_patients(archive, q)]
    return render(request, "partials/patients.html", {"patients": found, "doc_id": doc_id, "query": q})


# -- upload ---------------------------------------------------------------------------------------


@clerk.get("/upload")
def upload_page(request: Request, session: SessionDep) -> Response:
    jobs = [j.as_dict() for j in web_state(request).uploads.jobs(session.user.name)]
    return render(request, "upload.html", {"jobs": jobs, "errors": []})


@clerk.post("/upload")
def upload(
    request: Request,
    archive: ArchiveDep,
    session: SessionDep,
    files: Annotated[list[UploadFile], File()],
) -> Response:
    state = web_state(request)
    _, errors = queue_uploads(state, archive, session.user.name, files)
    jobs = [j.as_dict() for j in state.uploads.jobs(session.user.name)]
    status = 415 if errors and len(errors) == len(files) else 200  # nothing taken
    template = "partials/jobs.html" if _htmx(request) else "upload.html"
    return render(request, template, {"jobs": jobs, "errors": errors}, status=status)


@clerk.get("/upload/jobs")
def upload_jobs(request: Request, session: SessionDep) -> Response:
    jobs = [j.as_dict() for j in web_state(request).uploads.jobs(session.user.name)]
    return render(request, "partials/jobs.html", {"jobs": jobs, "errors": []})


# -- audit (auditor) ------------------------------------------------------------------------------


@auditor.get("/audit")
def audit_page(request: Request, archive: ArchiveDep) -> Response:
    data = audit_view(archive, user=None, patient=None, since=None, until=None, limit=200)
    return render(request, "audit.html", {**data, "filters": {}})


@auditor.post("/audit")
def audit_filtered(
    request: Request,
    archive: ArchiveDep,
    user: OptText = None,
    patient: OptText = None,
    date_from: Annotated[str | None, Form(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Form(alias="to", max_length=10)] = None,
) -> Response:
    filters = {
        "user": _blank(user),
        "patient": _blank(patient),
        "from": _blank(date_from),
        "to": _blank(date_to),
    }
    data = audit_view(
        archive,
        user=filters["user"],
        patient=filters["patient"],
        since=form_date(date_from),
        until=form_date(date_to),
    )
    return render(request, "audit.html", {**data, "filters": filters})


# -- users and roster (admin) ---------------------------------------------------------------------


def _users_page(
    request: Request, *, message: str | None = None, secret: str | None = None, status: int = 200
) -> Response:
    users = [u.as_dict() for u in web_state(request).users.list()]
    return render(
        request,
        "users.html",
        {"users": users, "roles": ROLES, "message": message, "secret": secret},
        status=status,
    )


@admin.get("/users")
def users_page(request: Request) -> Response:
    return _users_page(request)


@admin.post("/users")
def add_user(
    request: Request,
    archive: ArchiveDep,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    user, secret = web_state(request).users.add(name, role)
    archive.record_access("user add", {"user": user.name, "role": user.role}, [])
    return _users_page(
        request, message=f"User {user.name} added; give them this one-time password:", secret=secret
    )


@admin.post("/users/{name}/disable")
def disable_user(request: Request, archive: ArchiveDep, name: str) -> Response:
    user = web_state(request).users.disable(name)
    archive.record_access("user disable", {"user": user.name}, [])
    return _users_page(request, message=f"User {user.name} disabled; their sessions have ended.")


@admin.post("/users/{name}/reset")
def reset_user(request: Request, archive: ArchiveDep, name: str) -> Response:
    secret = web_state(request).users.reset(name)
    archive.record_access("user reset", {"user": name}, [])
    return _users_page(request, message=f"New one-time password for {name}:", secret=secret)


@admin.get("/roster")
def roster_page(request: Request, archive: ArchiveDep) -> Response:
    return render(
        request, "roster.html", {"patients": archive.patient_count(), "message": None, "errors": []}
    )


@admin.post("/roster")
def roster_import(request: Request, archive: ArchiveDep, roster: Annotated[UploadFile, File()]) -> Response:
    with tempfile.TemporaryDirectory(dir=archive.tmp_dir) as tmp:
        path = Path(tmp) / "roster.csv"
        with path.open("wb") as out:
            while chunk := roster.file.read(1 << 20):
                out.write(chunk)
        result = read_roster_csv(path)
    count = archive.import_patients(result.patients)
    archive.record_access("roster import", {"patients": count, "skipped": len(result.errors)}, [])
    message = f"Imported {count} patients, skipped {len(result.errors)} rows."
    data = {
        "patients": archive.patient_count(),
        "message": message,
        "errors": [str(e) for e in result.errors[:50]],
    }
    return render(request, "roster.html", data)
