"""The Deficiencies page: the work list of chart deficiencies, each finding drawn as a box on
its page image (the viewer's page images and box drawing), with resolve and dismiss (who,
when, why; audited). Its JSON twin is under /api/deficiencies. Documents archived since the
last look are analysed first, a few per request, so the page stays quick; ``chartclerk
deficiencies`` analyses all of them. Filters (an MRN among them) travel in POST bodies."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from chartclerk.deficiency import KINDS
from chartclerk.errors import ArchiveError
from chartclerk.store import Archive
from chartclerk.store.deficiencies import close_finding, list_findings
from chartclerk.web.auth import ArchiveDep, SessionDep, audited_archive, require_role, web_state
from chartclerk.web.views import parse_id

__all__ = ["SCAN_PER_REQUEST", "deficiencies_view", "routers"]

SCAN_PER_REQUEST = 20  # documents analysed per request at most (the CLI analyses them all)

_CLERK = require_role("clerk")
pages = APIRouter(dependencies=[Depends(_CLERK), Depends(audited_archive)], include_in_schema=False)
api = APIRouter(
    prefix="/api", tags=["clerk"], dependencies=[Depends(require_role("clerk")), Depends(audited_archive)]
)
routers = [pages, api]

Kind = Literal[
    "signature_missing", "signature_undated", "verbal_order_unauthenticated", "pages_missing",
    "identifier_missing", "consent_after_procedure", "document_missing",
]  # fmt: skip


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: str | None = Field(None, max_length=64, description="Patient MRN (exact).")
    kind: Kind | None = None
    older_than_days: int | None = Field(None, ge=0, le=36500, description="Documents archived before.")
    status: Literal["open", "resolved", "dismissed", "all"] = "open"


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="Why (kept and audited).")


def deficiencies_view(request: Request, archive: Archive, filters: Filters) -> dict[str, Any]:
    """The work list (``chartclerk deficiencies --json``) and the same findings grouped by
    document page, for drawing them."""
    from chartclerk.deficiency.run import scan_archive

    report = scan_archive(archive, web_state(request).settings, limit=SCAN_PER_REQUEST)
    items = list_findings(
        archive, patient=filters.patient, kind=filters.kind, older_than_days=filters.older_than_days,
        status=filters.status,
    )  # fmt: skip
    grouped: dict[tuple[int, int | None], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        grouped[(item["document_id"], item["page"])].append(item)
    return {
        "items": items,
        "pages": [
            {"document_id": doc, "page": page, "findings": found}
            for (doc, page), found in grouped.items()  # oldest first, as listed
        ],
        "filters": filters.model_dump(),
        "kinds": list(KINDS),
        "analysed": report.documents,
    }


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _render(request: Request, data: dict[str, Any], message: str | None = None) -> Response:
    state = web_state(request)
    context = {"data": data, "session": getattr(request.state, "session", None), "message": message}
    return state.templates.TemplateResponse(request, "deficiencies.html", context)


@pages.get("/deficiencies")
def deficiencies_page(request: Request, archive: ArchiveDep) -> Response:
    return _render(request, deficiencies_view(request, archive, Filters()))


@pages.post("/deficiencies")
def deficiencies_filtered(
    request: Request,
    archive: ArchiveDep,
    patient: Annotated[str | None, Form(max_length=64)] = None,
    kind: Annotated[str | None, Form(max_length=40)] = None,
    older_than_days: Annotated[str | None, Form(max_length=6)] = None,
    status: Annotated[str, Form(max_length=16)] = "open",
) -> Response:
    days = _blank(older_than_days)
    try:
        filters = Filters.model_validate(
            {"patient": _blank(patient), "kind": _blank(kind), "status": status,
             "older_than_days": int(days) if days is not None else None}
        )  # fmt: skip
    except ValueError as e:
        raise ArchiveError("filters: an MRN, a kind from the list, whole days, a status") from e
    return _render(request, deficiencies_view(request, archive, filters))


@pages.post("/deficiencies/{finding_id}/{action}")
def close_from_page(
    request: Request,
    archive: ArchiveDep,
    session: SessionDep,
    finding_id: str,
    action: str,
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    status = _status(action)
    item = close_finding(archive, parse_id(finding_id), status, session.user.name, reason)
    message = f"Finding {item['id']} {status}."
    return _render(request, deficiencies_view(request, archive, Filters()), message)


def _status(action: str) -> Literal["resolved", "dismissed"]:
    if action == "resolve":
        return "resolved"
    if action == "dismiss":
        return "dismissed"
    from chartclerk.errors import NotFoundError

    raise NotFoundError("not found")


@api.get("/deficiencies")
def deficiencies_json(request: Request, archive: ArchiveDep) -> dict[str, Any]:
    """The Deficiencies page's data: open findings, oldest first, and the same by page."""
    return deficiencies_view(request, archive, Filters())


@api.post("/deficiencies")
def deficiencies_filtered_json(request: Request, archive: ArchiveDep, body: Filters) -> list[dict[str, Any]]:
    """`chartclerk deficiencies [--patient MRN] [--kind K] [--older-than DAYS] --json`."""
    return list(deficiencies_view(request, archive, body)["items"])


@api.post("/deficiencies/{finding_id}/{action}")
def close_json(
    archive: ArchiveDep, session: SessionDep, finding_id: str, action: str, body: CloseBody
) -> dict[str, Any]:
    """`chartclerk deficiencies resolve|dismiss ID --reason WHY`, recorded the same way."""
    return close_finding(archive, parse_id(finding_id), _status(action), session.user.name, body.reason)
