"""The release-of-information page: record requests for records, see what is due, release a
request's packet and download it. ``/api/release`` is its JSON twin. Clerks only; every read
and change goes through chartclerk.store.release (audited there or here).

A packet made from the page is kept in ``<archive>/releases/`` (0600), named by its request,
so it can be downloaded again; the download checks the file against the SHA-256 recorded when
it was released."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from chartclerk.errors import ArchiveError, NotFoundError, RequestError
from chartclerk.files import sha256_file
from chartclerk.store import Archive
from chartclerk.store.disclosures import BASES
from chartclerk.store.release import Scope, get_request, list_requests, new_request, release_packet
from chartclerk.web.auth import ArchiveDep, audited_archive, require_role, web_state
from chartclerk.web.pages import render

__all__ = ["routers"]

clerk = APIRouter(
    dependencies=[Depends(require_role("clerk")), Depends(audited_archive)], include_in_schema=False
)
api = APIRouter(
    prefix="/api", tags=["release"], dependencies=[Depends(require_role("clerk")), Depends(audited_archive)]
)
routers = [clerk, api]
Opt = Annotated[str | None, Form(max_length=500)]


def packet_path(archive: Archive, request_id: int) -> Path:
    return archive.root / "releases" / f"request-{request_id}.pdf"


def _view(archive: Archive, show_all: bool) -> dict[str, Any]:
    requests = list_requests(archive, open_only=not show_all)
    return {"requests": [r.as_dict() for r in requests], "bases": list(BASES), "all": show_all}


@clerk.get("/release")
def release_page(request: Request, archive: ArchiveDep, show_all: bool = False) -> Response:
    return render(request, "release.html", {**_view(archive, show_all), "error": None, "message": None})


@api.get("/release")
def release_json(archive: ArchiveDep, show_all: bool = False) -> dict[str, Any]:
    return _view(archive, show_all)


@clerk.post("/release")
def create_request(
    request: Request,
    archive: ArchiveDep,
    patient: Annotated[str, Form(max_length=64)],
    requester: Annotated[str, Form(max_length=256)],
    address: Annotated[str, Form(max_length=500)],
    purpose: Annotated[str, Form(max_length=500)],
    basis: Annotated[str, Form(max_length=32)],
    types: Annotated[list[str] | None, Form(alias="type")] = None,
    date_from: Annotated[str | None, Form(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Form(alias="to", max_length=10)] = None,
    documents: Opt = None,
    due: Annotated[str | None, Form(max_length=10)] = None,
    include_restricted: Annotated[bool, Form()] = False,
) -> Response:
    from chartclerk.web.pages import form_date

    try:
        ids = tuple(int(x) for x in (documents or "").replace(",", " ").split())
    except ValueError:
        ids = ()
        error: str | None = "document ids are numbers separated by commas"
    else:
        error = None
    if error is None:
        scope = Scope(
            tuple(t for t in types or () if t),
            form_date(date_from),
            form_date(date_to),
            ids,
            include_restricted,
        )
        try:
            made = new_request(
                archive, web_state(request).settings.release, patient=patient, requester=requester,
                address=address, purpose=purpose, basis=basis, scope=scope, due_on=form_date(due),
            )  # fmt: skip
        except (RequestError, NotFoundError) as e:
            error = e.message
        else:
            data = {
                **_view(archive, False),
                "error": None,
                "message": f"Request {made.id} recorded, due {made.due_on}.",
            }
            return render(request, "release.html", data)
    return render(
        request, "release.html", {**_view(archive, False), "error": error, "message": None}, status=400
    )


@clerk.post("/release/{request_id}/packet")
def make_packet(request: Request, archive: ArchiveDep, request_id: int) -> Response:
    out = packet_path(archive, request_id)
    out.parent.mkdir(mode=0o700, exist_ok=True)
    release_packet(archive, web_state(request).settings.release, request_id, out)
    return RedirectResponse(f"/release/{request_id}/packet", status_code=303)


@clerk.get("/release/{request_id}/packet")
def download_packet(archive: ArchiveDep, request_id: int) -> Response:
    req = get_request(archive, request_id)
    out = packet_path(archive, request_id)
    if req.status != "released" or req.packet_sha256 is None or not out.is_file():
        raise NotFoundError(f"request {request_id} has no packet here")
    if sha256_file(out) != req.packet_sha256:
        raise ArchiveError(f"the packet of request {request_id} does not match its recorded SHA-256")
    archive.record_access(
        "download packet", {"request": request_id, "sha256": req.packet_sha256}, [req.patient_mrn]
    )
    return FileResponse(out, media_type="application/pdf", filename=f"request-{request_id}.pdf")
