"""The JSON API under /api/: the same contract as ``--json`` on the CLI (``list``, ``show``,
``search``, ``review``) and a JSON twin of every page, behind the same sign-in, roles, CSRF
(``X-CSRF-Token``, from ``GET /api/session``) and audit as the pages. FastAPI describes it at
/api/openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from chartclerk.classify import DOC_TYPES, LOINC
from chartclerk.store.review import review_queue
from chartclerk.store.users import ROLES
from chartclerk.web.auth import (
    ArchiveDep,
    SessionDep,
    audited_archive,
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
    hit_json,
    parse_id,
    review_view,
    search_view,
)

__all__ = ["routers"]


def _known_type(value: str) -> str:
    if value not in DOC_TYPES:
        raise ValueError(f"unknown document type (one of: {', '.join(DOC_TYPES)})")
    return value


# The document types, from their one list (classify.DOC_TYPES); the OpenAPI document lists them.
DocType = Annotated[
    str, AfterValidator(_known_type), WithJsonSchema({"type": "string", "enum": list(DOC_TYPES)})
]

common = APIRouter(
    prefix="/api", tags=["session"], dependencies=[Depends(require_role(*ROLES)), Depends(audited_archive)]
)
clerk = APIRouter(
    prefix="/api", tags=["clerk"], dependencies=[Depends(require_role("clerk")), Depends(audited_archive)]
)
auditor = APIRouter(
    prefix="/api", tags=["auditor"], dependencies=[Depends(require_role("auditor")), Depends(audited_archive)]
)
admin = APIRouter(
    prefix="/api", tags=["admin"], dependencies=[Depends(require_role("admin")), Depends(audited_archive)]
)
routers = [common, clerk, auditor, admin]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchBody(_Body):
    query: str = Field(max_length=1000, description='Words; "double quotes" for a phrase.')
    patient: str | None = Field(None, max_length=64, description="Patient MRN (exact).")
    type: DocType | None = None
    limit: int = Field(20, ge=1, le=1000)


class SearchPageBody(_Body):
    query: str = Field("", max_length=1000)
    patient: str | None = Field(None, max_length=64)
    type: DocType | None = None
    status: Literal["filed", "review"] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = Field(1, ge=1, le=100)


class ListBody(_Body):
    patient: str | None = Field(None, max_length=64)
    type: DocType | None = None
    status: Literal["filed", "review"] | None = None


class ChartBody(_Body):
    mrn: str = Field(max_length=64)


class FileBody(_Body):
    mrn: str | None = Field(None, max_length=64, description="Patient MRN; null keeps the document's.")
    type: DocType | None = None


class AuditBody(_Body):
    user: str | None = Field(None, max_length=64)
    patient: str | None = Field(None, max_length=64)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = Field(500, ge=1, le=100_000)


@common.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document FastAPI generates for this API."""
    spec: dict[str, Any] = request.app.openapi()
    return spec


@common.get("/session")
def session_info(session: SessionDep) -> dict[str, Any]:
    """Who is signed in, and the CSRF token that every POST must carry (X-CSRF-Token)."""
    return {"user": session.user.name, "role": session.user.role, "csrf_token": session.csrf_token}


@clerk.post("/search")
def search(request: Request, archive: ArchiveDep, body: SearchBody) -> list[dict[str, Any]]:
    """`chartclerk search --json`: hits best first."""
    hits = archive.search(body.query, patient=body.patient, doc_type=body.type, limit=body.limit)
    web_state(request).users.remember_query(session_token(request) or "", body.query.strip() or None)
    return [hit_json(h) for h in hits]


@clerk.post("/search/page")
def search_page(request: Request, archive: ArchiveDep, body: SearchPageBody) -> dict[str, Any]:
    """The search page's data: one page of results with patients, snippets split for marking."""
    form = SearchForm(
        body.query, body.patient, body.type, body.status, body.date_from, body.date_to, body.page
    )
    data = search_view(archive, form, web_state(request).settings.web.results_per_page)
    web_state(request).users.remember_query(session_token(request) or "", body.query.strip() or None)
    return data


@clerk.post("/list")
def list_documents(archive: ArchiveDep, body: ListBody) -> list[dict[str, Any]]:
    """`chartclerk list --json` (filters in the body: an MRN never goes in a URL)."""
    return archive.list_documents(patient=body.patient, doc_type=body.type, status=body.status)


@clerk.get("/documents/{doc_id}")
def show(archive: ArchiveDep, doc_id: str) -> dict[str, Any]:
    """`chartclerk show ID --json`: the document with its pages' text."""
    return archive.get_document(parse_id(doc_id), with_text=True)


@clerk.get("/documents/{doc_id}/view")
def viewer(archive: ArchiveDep, session: SessionDep, doc_id: str, hits: bool = False) -> dict[str, Any]:
    """The viewer's data: the document, its history, its patient and (``hits=true``) the boxes of
    the session's last search's words per page (fractions of the page)."""
    return document_view(archive, parse_id(doc_id), session.last_query if hits else None)


@clerk.post("/chart")
def chart(archive: ArchiveDep, body: ChartBody) -> dict[str, Any]:
    """The patient's chart: roster details and documents grouped by type."""
    return chart_view(archive, body.mrn)


@clerk.get("/review")
def review(archive: ArchiveDep) -> list[dict[str, Any]]:
    """`chartclerk review --json`."""
    return [item.as_dict() for item in review_queue(archive)]


@clerk.get("/review/page")
def review_page(archive: ArchiveDep) -> dict[str, Any]:
    return review_view(archive)


@clerk.post("/documents/{doc_id}/file")
def file_document(archive: ArchiveDep, session: SessionDep, doc_id: str, body: FileBody) -> dict[str, Any]:
    """`chartclerk file ID --patient MRN [--type T]`, recorded the same way."""
    return archive.file_document(
        parse_id(doc_id), mrn=body.mrn, doc_type=body.type, loinc=LOINC.get(body.type) if body.type else None,
        user=session.user.name,
    )  # fmt: skip


@clerk.get("/uploads")
def uploads(request: Request, session: SessionDep) -> list[dict[str, Any]]:
    """This user's uploads, newest first, with progress and outcome."""
    return [j.as_dict() for j in web_state(request).uploads.jobs(session.user.name)]


@clerk.post("/uploads")
def upload(
    request: Request, archive: ArchiveDep, session: SessionDep, files: Annotated[list[UploadFile], File()]
) -> dict[str, Any]:
    """The upload page's twin: queue scans for the inbox pipeline; refused files with why."""
    state = web_state(request)
    jobs, refused = queue_uploads(state, archive, session.user.name, files)
    return {"queued": [j.as_dict() for j in jobs], "refused": refused}


@auditor.post("/audit")
def audit(archive: ArchiveDep, body: AuditBody) -> dict[str, Any]:
    """Audit entries (newest first) and whether the chain verifies."""
    return audit_view(
        archive,
        user=body.user,
        patient=body.patient,
        since=body.date_from,
        until=body.date_to,
        limit=body.limit,
    )


@admin.get("/users")
def users(request: Request) -> list[dict[str, Any]]:
    """`chartclerk users list --json`."""
    return [u.as_dict() for u in web_state(request).users.list()]


@admin.get("/roster")
def roster(archive: ArchiveDep) -> dict[str, Any]:
    """The roster import page's twin: how many patients the roster holds."""
    return {"patients": archive.patient_count()}
