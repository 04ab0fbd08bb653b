"""Read-only FHIR R4 (US Core) routes: ``/fhir/Patient/{id}``,
``/fhir/DocumentReference?patient=...&type=...&date=...`` and ``/fhir/Binary/{id}`` (the PDF).

The resources are those of ``chartclerk fhir export`` (built by chartclerk.store.fhir). Clerks
only, behind the same sign-in as every page; each read is recorded in the audit log with the
documents and patients it returned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from chartclerk.errors import NotFoundError
from chartclerk.store.fhir import binary_file, document_ids, read_patient, search_document_references
from chartclerk.web.auth import ArchiveDep, audited_archive, require_role, web_state

__all__ = ["routers"]

FHIR_JSON = "application/fhir+json"
clerk = APIRouter(
    prefix="/fhir", tags=["fhir"], dependencies=[Depends(require_role("clerk")), Depends(audited_archive)]
)
routers = [clerk]


def _fhir(resource: dict[str, Any]) -> Response:
    return JSONResponse(resource, media_type=FHIR_JSON)


@clerk.get("/Patient/{resource_id}")
def fhir_patient(request: Request, archive: ArchiveDep, resource_id: str) -> Response:
    resource = read_patient(archive, web_state(request).settings.release, resource_id)
    mrn = resource["identifier"][0]["value"]
    archive.record_access("fhir read", {"resource": f"Patient/{resource['id']}"}, [mrn])
    return _fhir(resource)


@clerk.get("/DocumentReference")
def fhir_document_references(
    request: Request,
    archive: ArchiveDep,
    patient: Annotated[str, Query(max_length=200)],
    type_code: Annotated[str | None, Query(alias="type", max_length=200)] = None,
    date: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    bundle = search_document_references(
        archive, web_state(request).settings.release, patient=patient, type_code=type_code, date=date
    )
    ids = document_ids(bundle)
    mrns = {e["resource"]["subject"]["reference"] for e in bundle["entry"]}
    archive.record_access(
        "fhir read", {"resource": "DocumentReference", "documents": ids, "type": type_code, "date": date},
        [patient.removeprefix("Patient/"), *(m.removeprefix("Patient/") for m in mrns)],
    )  # fmt: skip
    return _fhir(bundle)


@clerk.get("/Binary/{resource_id}")
def fhir_binary(archive: ArchiveDep, resource_id: str) -> Response:
    if not resource_id.isdigit() or len(resource_id) > 12:
        raise NotFoundError("no such Binary")
    doc_id = int(resource_id)
    pdf, mrn = binary_file(archive, doc_id)
    archive.record_access("fhir read", {"resource": f"Binary/{doc_id}", "documents": [doc_id]}, [mrn])
    return FileResponse(pdf, media_type="application/pdf")
