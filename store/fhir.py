"""HL7 FHIR R4 (US Core) resources of the archive: Patient and DocumentReference.

:func:`export_ndjson` writes them as FHIR bulk data does: one NDJSON file per resource type
(``Patient.ndjson``, ``DocumentReference.ndjson``), one resource a line, streamed from the
database in batches (memory stays flat in the archive's size). Only filed documents are
exported; documents in review are not (their patient is not known).

A DocumentReference follows US Core's profile: status ``current``, ``type`` with its LOINC
code, the ``clinical-note`` category, ``subject`` (the Patient), ``date`` (an instant with its
time zone), the office as ``custodian`` and ``content.attachment`` with contentType
``application/pdf``, ``url`` (``<fhir_base_url>/Binary/ID``) or the PDF itself as ``data``,
``size``, ``hash`` (base64 of the SHA-1 of the PDF, as FHIR defines it) and ``title``.
:func:`us_core_problems` is the project's own check of the required elements; the tests also
validate every resource with ``fhir.resources`` (R4B models).

The same builders serve the web app's read-only ``/fhir`` routes (chartclerk.web.fhir).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select

from chartclerk.classify.doctype import LOINC
from chartclerk.errors import ArchiveError, NotFoundError, RequestError
from chartclerk.settings import ReleaseSettings
from chartclerk.store.archive import Archive
from chartclerk.store.db import session_scope
from chartclerk.store.roster import lookup_mrn
from chartclerk.store.tables import DocumentRow, PatientRow

log = logging.getLogger(__name__)

US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
US_CORE_DOCREF = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference"
CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC_SYSTEM = "http://loinc.org"
# Display names of the LOINC document codes of the document types (codes: classify.LOINC).
LOINC_DISPLAY: dict[str, str] = {
    "18842-5": "Discharge summary",
    "34117-2": "History and physical note",
    "11506-3": "Progress note",
    "11488-4": "Consult note",
    "11504-8": "Surgical operation note",
    "11502-2": "Laboratory report",
    "18748-4": "Diagnostic imaging study",
    "57133-1": "Referral note",
    "59284-0": "Consent Document",
    "57833-6": "Prescription for medication",
    "64291-8": "Health insurance-related form",
    "51851-4": "Administrative note",
    "34109-9": "Note",
}
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_BATCH = 2000
_GENDER = {"M": "male", "MALE": "male", "F": "female", "FEMALE": "female", "O": "other", "X": "other"}


def patient_id(mrn: str) -> str:
    """The Patient's logical id: the MRN when it is a valid FHIR id, else a hash of it."""
    if _ID.fullmatch(mrn):
        return mrn
    return "mrn-" + hashlib.sha256(mrn.encode("utf-8")).hexdigest()[:40]


def patient_resource(row: PatientRow, config: ReleaseSettings) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id(row.mrn),
        "meta": {"profile": [US_CORE_PATIENT]},
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {"system": IDENTIFIER_TYPE_SYSTEM, "code": "MR", "display": "Medical record number"}
                    ],
                    "text": "MRN",
                },
                "system": config.mr_system,
                "value": row.mrn,
            }
        ],
        "name": [{"use": "official", "family": row.last, "given": [row.first]}],
        "gender": _GENDER.get(row.sex.strip().upper(), "unknown"),
        "birthDate": row.dob.isoformat(),
    }


def document_reference(
    row: DocumentRow, config: ReleaseSettings, pdf: Path, *, inline: bool = False
) -> dict[str, Any]:
    """The DocumentReference of a filed document; reads its PDF (size, SHA-1, and the bytes
    when ``inline``)."""
    if row.status != "filed" or row.patient_mrn is None:
        raise ArchiveError(f"document {row.id} is not filed: it has no FHIR DocumentReference")
    code = row.loinc or LOINC.get(row.doc_type, LOINC["other"])
    display = LOINC_DISPLAY.get(code, row.doc_type.replace("_", " ").capitalize())
    size, sha1, data = _read_pdf(pdf, inline)
    attachment: dict[str, Any] = {
        "contentType": "application/pdf",
        "size": size,
        "hash": base64.b64encode(sha1).decode("ascii"),
        "title": f"{display} ({row.created_at.date().isoformat()})",
        "creation": _instant(row.created_at),
    }
    if data is not None:
        attachment["data"] = base64.b64encode(data).decode("ascii")
    else:
        base = config.fhir_base_url.rstrip("/")
        attachment["url"] = f"{base}/Binary/{row.id}" if base else f"Binary/{row.id}"
    return {
        "resourceType": "DocumentReference",
        "id": str(row.id),
        "meta": {"profile": [US_CORE_DOCREF]},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:sha256:{row.pdf_sha256}"}],
        "status": "current",
        "type": {
            "coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}],
            "text": row.doc_type.replace("_", " "),
        },
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": "clinical-note", "display": "Clinical Note"}]}
        ],
        "subject": {"reference": f"Patient/{patient_id(row.patient_mrn)}"},
        "date": _instant(row.created_at),
        "custodian": {"display": config.office_name},
        "description": f"{display}, scanned",
        "content": [
            {
                "attachment": attachment,
                "format": {
                    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                    "display": "mimeType Sufficient",
                },
            }
        ],
    }


def us_core_problems(resource: dict[str, Any]) -> list[str]:
    """What a resource lacks of US Core's required elements (empty when it has them all)."""
    kind = resource.get("resourceType")
    problems: list[str] = []
    if kind == "Patient":
        idents = resource.get("identifier") or []
        if not any(i.get("system") and i.get("value") for i in idents):
            problems.append("Patient.identifier needs a system and a value")
        if not any(n.get("family") or n.get("given") for n in resource.get("name") or []):
            problems.append("Patient.name needs a family or a given name")
        if resource.get("gender") not in ("male", "female", "other", "unknown"):
            problems.append("Patient.gender is missing or not male/female/other/unknown")
        return problems
    if kind != "DocumentReference":
        return [f"not a Patient or DocumentReference: {kind!r}"]
    if resource.get("status") not in ("current", "superseded", "entered-in-error"):
        problems.append("DocumentReference.status is missing or invalid")
    codings = (resource.get("type") or {}).get("coding") or []
    if not any(c.get("system") == LOINC_SYSTEM and c.get("code") for c in codings):
        problems.append("DocumentReference.type needs a LOINC code")
    if not resource.get("category"):
        problems.append("DocumentReference.category is missing")
    subject = (resource.get("subject") or {}).get("reference", "")
    if not str(subject).startswith("Patient/"):
        problems.append("DocumentReference.subject must reference a Patient")
    date = resource.get("date")
    if date is not None and not _INSTANT.match(str(date)):
        problems.append("DocumentReference.date must be an instant with a time zone")
    contents = resource.get("content") or []
    if not contents:
        problems.append("DocumentReference.content is missing")
    for c in contents:
        att = c.get("attachment") or {}
        if not att.get("contentType"):
            problems.append("DocumentReference.content.attachment.contentType is missing")
        if not (att.get("url") or att.get("data")):
            problems.append("DocumentReference.content.attachment needs a url or data")
    return problems


def export_ndjson(
    archive: Archive, config: ReleaseSettings, out: Path, *, patient: str | None = None, inline: bool = False
) -> dict[str, int]:
    """Write Patient.ndjson and DocumentReference.ndjson into ``out``; returns the counts.
    Files are written under temporary names and renamed when complete. The export is audited."""
    mrn: str | None = None
    if patient is not None:
        with session_scope(archive.engine) as session:
            row = lookup_mrn(session, patient)
            if row is None:
                raise NotFoundError(f"no patient with MRN {patient} in the roster")
            mrn = row.mrn
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ArchiveError(f"cannot create {out}: {e.strerror or e}") from e
    counts = {"Patient": 0, "DocumentReference": 0}
    archive.record_access("fhir export", {"to": str(out.absolute()), "inline": inline}, [mrn])
    with _ndjson(out / "Patient.ndjson") as f:
        for p in _patients(archive, mrn):
            f.write(json.dumps(patient_resource(p, config), separators=(",", ":"), ensure_ascii=False) + "\n")
            counts["Patient"] += 1
    with _ndjson(out / "DocumentReference.ndjson") as f:
        for d in _documents(archive, select(DocumentRow).where(_filed(mrn))):
            resource = document_reference(d, config, archive.root / d.pdf_path, inline=inline)
            f.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n")
            counts["DocumentReference"] += 1
    log.info("FHIR export: %d patients, %d documents", counts["Patient"], counts["DocumentReference"])
    return counts


def read_patient(archive: Archive, config: ReleaseSettings, resource_id: str) -> dict[str, Any]:
    """The Patient with this logical id (the web app audits the read)."""
    with session_scope(archive.engine) as session:
        row = session.get(PatientRow, resource_id)
        if row is None and resource_id.startswith("mrn-"):  # an MRN that is not a valid FHIR id
            hashed = (r for r in session.scalars(select(PatientRow)) if patient_id(r.mrn) == resource_id)
            row = next(hashed, None)
        if row is None:
            raise NotFoundError(f"Patient/{resource_id} not found")
        return patient_resource(row, config)


def search_document_references(
    archive: Archive,
    config: ReleaseSettings,
    *,
    patient: str,
    type_code: str | None = None,
    date: str | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """A searchset Bundle of a patient's DocumentReferences, optionally of one LOINC type
    (``http://loinc.org|11502-2`` or ``11502-2``) and date (``2026-01-05``, ``ge2026-01-01``,
    ``lt2026-02-01``... repeat with commas is not supported)."""
    mrn = patient.removeprefix("Patient/")
    with session_scope(archive.engine) as session:
        row = session.get(PatientRow, mrn) or lookup_mrn(session, mrn)
        if row is None:
            raise NotFoundError(f"Patient/{mrn} not found")
        found_mrn = row.mrn
    query = select(DocumentRow).where(_filed(found_mrn))
    if type_code:
        code = type_code.split("|")[-1]
        types = [t for t, c in LOINC.items() if c == code]
        query = query.where(
            (DocumentRow.loinc == code) | (DocumentRow.loinc.is_(None) & DocumentRow.doc_type.in_(types))
        )
    if date:
        query = _date_filter(query, date)
    entries = []
    for d in _documents(archive, query.limit(limit)):
        resource = document_reference(d, config, archive.root / d.pdf_path)
        entries.append(
            {"fullUrl": f"DocumentReference/{d.id}", "resource": resource, "search": {"mode": "match"}}
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def binary_file(archive: Archive, doc_id: int) -> tuple[Path, str]:
    """The PDF of a filed document and its patient's MRN (documents in review have no Binary)."""
    with session_scope(archive.engine) as session:
        row = session.get(DocumentRow, doc_id)
        if row is None or row.status != "filed" or row.patient_mrn is None:
            raise NotFoundError(f"Binary/{doc_id} not found")
        return archive.root / row.pdf_path, row.patient_mrn


def document_ids(bundle: dict[str, Any]) -> list[int]:
    return [int(e["resource"]["id"]) for e in bundle.get("entry", [])]


def _date_filter(query: Select[Any], value: str) -> Select[Any]:
    match = re.fullmatch(r"(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})", value.strip())
    if match is None:
        raise RequestError(f"date must be like 2026-01-31 or ge2026-01-01, not {value!r}")
    prefix, day = match.group(1) or "eq", dt.date.fromisoformat(match.group(2))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    column = DocumentRow.created_at
    return {
        "eq": query.where(column >= start, column < end),
        "ge": query.where(column >= start),
        "gt": query.where(column >= end),
        "le": query.where(column < end),
        "lt": query.where(column < start),
    }[prefix]


def _filed(mrn: str | None) -> Any:
    cond = DocumentRow.status == "filed"
    return cond if mrn is None else cond & (DocumentRow.patient_mrn == mrn)


def _patients(archive: Archive, mrn: str | None) -> Iterator[PatientRow]:
    query = select(PatientRow).order_by(PatientRow.mrn)
    if mrn is not None:
        query = query.where(PatientRow.mrn == mrn)
    with session_scope(archive.engine) as session:
        for row in session.scalars(query.execution_options(yield_per=_BATCH)):
            yield row
            session.expunge(row)


def _documents(archive: Archive, query: Select[Any]) -> Iterator[DocumentRow]:
    with session_scope(archive.engine) as session:
        for row in session.scalars(query.order_by(DocumentRow.id).execution_options(yield_per=_BATCH)):
            yield row
            session.expunge(row)


def _read_pdf(path: Path, keep: bool) -> tuple[int, bytes, bytes | None]:
    digest = hashlib.sha1(usedforsecurity=False)
    chunks: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
                size += len(block)
                if keep:
                    chunks.append(block)
    except OSError as e:
        raise ArchiveError(f"cannot read {path.name}: {e.strerror or e}") from e
    return size, digest.digest(), b"".join(chunks) if keep else None


def _instant(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


class _ndjson:
    """A file written under a temporary name, fsynced and renamed on success."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._file: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        return self._file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._file is not None
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        if exc_type is None:
            self._tmp.replace(self._path)
        else:
            self._tmp.unlink(missing_ok=True)
