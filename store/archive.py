"""The archive: originals, searchable document PDFs and the database that indexes them.

Layout under ``settings.archive`` (folders 0700, files 0600)::

    chartclerk.db                              SQLite database (unless settings.database says otherwise)
    originals/<sha[:2]>/<sha256><.suffix>      every scanned file, byte for byte
    documents/<sha[:2]>/<sha256>-p<first>.pdf  one searchable PDF per document
    tmp/                                       workers' single-page PDFs, staged files

Files are written under a temporary name, fsynced and renamed; a document's
database rows are written in one transaction after its PDF is in place, and the
PDF is removed again if that transaction fails.

Search uses SQLite FTS5 (chartclerk.store.search: porter stemming; BM25 ranking of
the newest matching pages) or, on PostgreSQL, a tsvector column with a GIN index
(chartclerk.store.search_pg, the same bounds); chartclerk.store.fulltext picks one by
dialect. On other databases it falls back to a plain case-insensitive LIKE over page text
(every term must appear; scored by the number of occurrences) — adequate for small
archives only.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, cast

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from chartclerk.classify.models import Patient
from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.files import fsync_dir, sha256_file
from chartclerk.settings import Settings
from chartclerk.store.anchor import register_anchor
from chartclerk.store.audit import Actor, AuditEntry, ChainReport, append_entry, current_actor
from chartclerk.store.audit import read_entries as _read_audit
from chartclerk.store.audit import record_access as _record_access
from chartclerk.store.audit import verify_chain as _verify_chain
from chartclerk.store.db import (
    create_sqlite_file,
    make_engine,
    session_scope,
    sqlite_file,
    upgrade_schema,
    write_engine,
)
from chartclerk.store.fulltext import search_backend
from chartclerk.store.models import (
    ArchivedDocument,
    DocumentFiles,
    DocumentRecord,
    SearchHit,
    SourceRecord,
    WordBox,
)
from chartclerk.store.pdf import PdfMetadata, assemble_pdf, update_pdf_metadata
from chartclerk.store.recovery import ArchiveLock, RecoveryReport, recover_archive
from chartclerk.store.roster import ArchiveRoster, import_patients, lookup_mrn, normalize_mrn
from chartclerk.store.search import fts_terms
from chartclerk.store.tables import CorrectionRow, DocumentRow, PageRow, PatientRow, SourceRow, utcnow
from chartclerk.store.verify import VerifyReport, verify_archive

log = logging.getLogger(__name__)

DB_NAME = "chartclerk.db"
_CHUNK = 1 << 20


class Archive:
    """The archive folder and database. Open with :meth:`open`; close (or use as a context manager)."""

    def __init__(self, root: Path, engine: Engine, actor: Actor | None = None) -> None:
        self._root = root
        self._engine = engine
        self._actor = actor or current_actor(program="chartclerk library")
        self._lock: ArchiveLock | None = None
        self._writer = write_engine(engine)
        self._search = search_backend(engine.dialect.name)
        self._roster = ArchiveRoster(engine)

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, actor: Actor | None = None) -> Archive:
        """Create the archive folders and database if missing and upgrade the schema.

        ``actor`` is who reads (recorded in the audit log); default: the OS user. The
        process holds a shared lock on the archive until :meth:`close`."""
        root = settings.archive
        try:
            for folder in (root, root / "originals", root / "documents", root / "tmp"):
                _private_dir(folder)
        except OSError as e:
            raise ArchiveError(f"cannot create the archive folder {root}: {e.strerror or e}") from e
        url = settings.database or f"sqlite:///{root / DB_NAME}"
        db_file = sqlite_file(url)
        if db_file is not None:
            try:
                create_sqlite_file(db_file)
            except OSError as e:
                raise ArchiveError(f"cannot create the database {db_file}: {e.strerror or e}") from e
        lock = ArchiveLock.acquire(root)
        engine = make_engine(url)
        register_anchor(engine, settings.release.anchor_dir)  # chain checkpoints outside the database
        try:
            upgrade_schema(engine)
        except BaseException:
            engine.dispose()
            lock.release()
            raise
        log.debug("archive opened at %s", root)
        archive = cls(root, engine, actor)
        archive._lock = lock
        return archive

    def close(self) -> None:
        self._engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def root(self) -> Path:
        return self._root

    @property
    def tmp_dir(self) -> Path:
        """Scratch folder inside the archive (same file system), e.g. for workers' page PDFs."""
        return self._root / "tmp"

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- sources ----------------------------------------------------------------------------------

    def source_status(self, sha256: str) -> Literal["partial", "complete"] | None:
        with session_scope(self._engine) as session:
            status = session.scalar(select(SourceRow.status).where(SourceRow.sha256 == sha256))
        return cast(Literal["partial", "complete"] | None, status)

    def store_original(self, source: SourceRecord) -> Path:
        """Copy the original into originals/ (verified by sha256) and record it as 'partial'.

        Idempotent: an intact copy already there is kept. ``source.path`` is only read."""
        sha = source.sha256.lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ArchiveError("source sha256 is not 64 hex digits")
        suffix = (Path(source.name).suffix or source.path.suffix).lower()
        rel = Path("originals") / sha[:2] / f"{sha}{suffix}"
        dest = self._root / rel
        if dest.is_file() and sha256_file(dest) == sha:
            log.debug("original %s already stored", sha)
        else:
            if dest.exists():
                log.warning("stored original %s is damaged; copying it again", sha)
            self._copy_verified(source, dest)
        with session_scope(self._writer) as session:
            if session.get(SourceRow, sha) is None:
                session.add(
                    SourceRow(
                        sha256=sha,
                        name=source.name,
                        size=source.size,
                        page_count=source.page_count,
                        stored_path=rel.as_posix(),
                        status="partial",
                    )
                )
        return dest

    def _copy_verified(self, source: SourceRecord, dest: Path) -> None:
        _private_dir(dest.parent)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            read = hashlib.sha256()
            with source.path.open("rb") as src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    read.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if read.hexdigest() != source.sha256.lower():
                raise ArchiveError(f"source {source.sha256[:12]} changed since it was hashed; not stored")
            if sha256_file(tmp) != source.sha256.lower():
                raise ArchiveError(f"copy of source {source.sha256[:12]} does not match its sha256")
            tmp.replace(dest)
            fsync_dir(dest.parent)
        except OSError as e:
            raise ArchiveError(f"cannot store original {source.sha256[:12]}: {e.strerror or e}") from e
        finally:
            tmp.unlink(missing_ok=True)
        log.info("stored original %s (%d bytes)", source.sha256, source.size)

    def complete_source(self, sha256: str) -> None:
        """Mark a source as fully archived (every document of it is in)."""
        with session_scope(self._writer) as session:
            row = session.get(SourceRow, sha256.lower())
            if row is None:
                raise NotFoundError(f"source {sha256[:12]} is not in the archive")
            row.status = "complete"
        log.info("source %s complete", sha256)

    # -- documents --------------------------------------------------------------------------------

    def archive_document(self, doc: DocumentRecord) -> ArchivedDocument:
        """Assemble the document's searchable PDF and record it with its pages, in one transaction.

        Idempotent on (source sha256, first page): a document already archived is returned
        with ``created=False`` and nothing is written."""
        sha = doc.source.sha256.lower()
        first, last = doc.source_pages
        _check_document(doc)
        found = self._find_archived(sha, first)
        if found is not None:
            return found

        rel = Path("documents") / sha[:2] / f"{sha}-p{first}.pdf"
        final = self._root / rel
        staged = self.tmp_dir / f"{sha}-p{first}-{uuid.uuid4().hex}.pdf"
        metadata = PdfMetadata(
            title=_title(doc.doc_type, doc.source.name, first, last),
            doc_type=doc.doc_type,
            loinc=doc.loinc,
            patient_mrn=doc.patient_mrn,
            source_name=doc.source.name,
            source_pages=(first, last),
        )
        placed = False
        try:
            pdf_sha = assemble_pdf([page.pdf_page for page in doc.pages], staged, metadata)
            with session_scope(self._writer) as session:
                # Lock the source row (a write lock on SQLite already) so one writer wins a race.
                source = session.get(SourceRow, sha, with_for_update=True)
                if source is None:
                    raise ArchiveError(f"source {sha[:12]} is not stored; store_original comes first")
                row = session.scalar(_document_query(sha, first))
                if row is not None:
                    return _archived(self._root, row, created=False)
                if doc.patient_mrn is not None and session.get(PatientRow, doc.patient_mrn) is None:
                    raise ArchiveError(f"document {sha[:12]} p{first}: its patient is not in the roster")
                _private_dir(final.parent)
                staged.replace(final)
                placed = True
                fsync_dir(final.parent)
                row = _document_row(doc, rel, pdf_sha)
                session.add(row)
                session.flush()
                # Near-duplicate scans (imported here: numpy stays out of `search` and `list`).
                from chartclerk.store.dedupe import check_document

                check_document(session, row, [page.text for page in doc.pages])
                result = _archived(self._root, row, created=True)
            placed = False  # committed: the PDF stays
        except OSError as e:
            raise ArchiveError(f"cannot write document {sha[:12]} p{first}: {e.strerror or e}") from e
        finally:
            staged.unlink(missing_ok=True)
            if placed:
                final.unlink(missing_ok=True)
        log.info("archived document %d (source %s pp. %d-%d, %s)", result.id, sha, first, last, result.status)
        return result

    def _find_archived(self, sha: str, first: int) -> ArchivedDocument | None:
        with session_scope(self._engine) as session:
            row = session.scalar(_document_query(sha, first))
            return None if row is None else _archived(self._root, row, created=False)

    def list_documents(
        self,
        *,
        patient: str | None = None,
        doc_type: str | None = None,
        status: str | None = None,
        superseded: bool = False,
    ) -> list[dict[str, Any]]:
        """Documents (oldest first) as JSON-ready dicts, pages without text; ``patient`` is an MRN.
        Superseded documents (a clerk kept another scan of the same paper) only with ``superseded``."""
        query = (
            select(DocumentRow)
            .options(joinedload(DocumentRow.source), selectinload(DocumentRow.pages).defer(PageRow.text))
            .order_by(DocumentRow.id)
        )
        if patient is not None:
            query = query.where(DocumentRow.patient_mrn.in_(_mrns_like(patient)))
        if doc_type is not None:
            query = query.where(DocumentRow.doc_type == doc_type)
        if status is not None:
            query = query.where(DocumentRow.status == status)
        if not superseded:
            query = query.where(DocumentRow.superseded_by.is_(None))
        with session_scope(self._engine) as session:
            docs = [_document_dict(row, with_text=False) for row in session.scalars(query)]
        filters = {"patient": patient, "type": doc_type, "status": status}
        self._audit_read("list", docs, patient, filters={k: v for k, v in filters.items() if v is not None})
        return docs

    def get_document(self, doc_id: int, *, with_text: bool = False) -> dict[str, Any]:
        with session_scope(self._engine) as session:
            doc = _document_dict(_load_document(session, doc_id), with_text=with_text)
        self._audit_read("show", [doc], None, text=with_text)
        return doc

    def page_words(self, doc_id: int, number: int) -> tuple[WordBox, ...]:
        """The words of one page of a document with their boxes (fractions of the archived
        page), in reading order. The caller audits the read it serves them for."""
        with session_scope(self._engine) as session:
            words = session.scalar(
                select(PageRow.words).where(PageRow.document_id == doc_id, PageRow.number == number)
            )
        if words is None:
            raise NotFoundError(f"document {doc_id} page {number} not found")
        return _words_from_json(words)

    def document_files(self, doc_id: int) -> DocumentFiles:
        """Where a document's searchable PDF and original are, for serving them (the web app).
        Nothing is recorded: the caller audits what it serves."""
        pages = select(func.count()).where(PageRow.document_id == DocumentRow.id).scalar_subquery()
        query = (
            select(
                DocumentRow.id, DocumentRow.pdf_path, DocumentRow.pdf_sha256, DocumentRow.patient_mrn,
                DocumentRow.updated_at, SourceRow.stored_path, SourceRow.name, pages.label("pages"),
            )
            .join(SourceRow, SourceRow.sha256 == DocumentRow.source_sha256)
            .where(DocumentRow.id == doc_id)
        )  # fmt: skip
        with session_scope(self._engine) as session:
            row = session.execute(query).first()  # one indexed row, no page text
        if row is None:
            raise NotFoundError(f"document {doc_id} not found")
        return DocumentFiles(
            id=row.id,
            pdf=self._root / row.pdf_path,
            pdf_sha256=row.pdf_sha256,
            original=self._root / row.stored_path,
            original_name=row.name,
            patient_mrn=row.patient_mrn,
            pages=int(row.pages),
            updated_at=row.updated_at,
        )

    def document_summaries(self, doc_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Status, archive date and source pages of these documents (search results' extra
        columns; the search that found them recorded the read)."""
        wanted = sorted(set(doc_ids))
        if not wanted:
            return {}
        query = select(
            DocumentRow.id, DocumentRow.status, DocumentRow.created_at, DocumentRow.first_page,
            DocumentRow.last_page,
        ).where(DocumentRow.id.in_(wanted))  # fmt: skip
        with session_scope(self._engine) as session:
            return {
                r.id: {
                    "status": r.status,
                    "created_at": r.created_at,
                    "source_pages": [r.first_page, r.last_page],
                }
                for r in session.execute(query)
            }

    def document_history(self, doc_id: int) -> list[dict[str, Any]]:
        """A document's corrections (who filed or changed what, when, from what to what), oldest
        first; part of what ``get_document`` shows (audited there)."""
        with session_scope(self._engine) as session:
            rows = session.scalars(
                select(CorrectionRow).where(CorrectionRow.document_id == doc_id).order_by(CorrectionRow.id)
            )
            return [
                {"at": r.at.isoformat(), "user": r.user, "field": r.field, "old": r.old, "new": r.new}
                for r in rows
            ]

    def export_document(self, doc_id: int, out: Path) -> Path:
        """Copy the document's searchable PDF to ``out`` (recorded in the audit log first)."""
        with session_scope(self._engine) as session:
            row = _load_document(session, doc_id)
            rel, mrn = row.pdf_path, row.patient_mrn
        self.record_access("export", {"documents": [doc_id], "to": str(out.absolute())}, [mrn])
        try:
            shutil.copyfile(self._root / rel, out)
        except OSError as e:
            raise ArchiveError(f"cannot export document {doc_id}: {e.strerror or e}") from e
        return out

    def corrected_documents(self) -> list[tuple[str, str]]:
        """(text, type) of every document whose type a clerk corrected (``file --type``), with
        its current type: what ``chartclerk train`` learns from. Pages joined as the pipeline
        joins them; the read is recorded in the audit log."""
        corrected = select(CorrectionRow.document_id).where(CorrectionRow.field == "doc_type")
        query = (
            select(DocumentRow)
            .where(DocumentRow.id.in_(corrected))
            .options(selectinload(DocumentRow.pages))
            .order_by(DocumentRow.id)
        )
        with session_scope(self._engine) as session:
            rows = [
                (row.id, row.patient_mrn, "\n\f".join(p.text for p in row.pages), row.doc_type)
                for row in session.scalars(query)
            ]
        self.record_access("train", {"documents": [r[0] for r in rows]}, [r[1] for r in rows])
        return [(text, doc_type) for _, _, text, doc_type in rows]

    def pdf_path(self, doc_id: int) -> Path:
        with session_scope(self._engine) as session:
            rel = session.scalar(select(DocumentRow.pdf_path).where(DocumentRow.id == doc_id))
        if rel is None:
            raise NotFoundError(f"document {doc_id} not found")
        return self._root / rel

    def file_document(
        self, doc_id: int, *, mrn: str | None, doc_type: str | None, loinc: str | None, user: str
    ) -> dict[str, Any]:
        """A clerk files a document (typically one in review) to a patient, optionally re-typing it.

        ``mrn`` None keeps the document's patient (there must be one). ``doc_type`` None keeps
        the type and then ``loinc`` None keeps the LOINC code; with a new ``doc_type`` the LOINC
        code is set to ``loinc`` as given. Every changed field is recorded in ``corrections``
        and the PDF's metadata is rewritten, in one transaction."""
        user = user.strip()
        if not user:
            raise ArchiveError("a user name is required to file a document")
        backup: Path | None = None
        pdf: Path | None = None
        try:
            with session_scope(self._writer) as session:
                row = _load_document(session, doc_id)
                if mrn is not None:
                    patient = lookup_mrn(session, mrn)
                    if patient is None:
                        raise NotFoundError(f"document {doc_id}: no patient with that MRN in the roster")
                    new_mrn: str | None = patient.mrn
                else:
                    new_mrn = row.patient_mrn
                if new_mrn is None:
                    raise ArchiveError(f"document {doc_id} has no patient: give an MRN to file it")
                wanted: dict[str, Any] = {
                    "patient_mrn": new_mrn,
                    "patient_confidence": 1.0,
                    "status": "filed",
                }
                if doc_type is not None:
                    if not doc_type.strip():
                        raise ArchiveError("document type must not be empty")
                    wanted.update(doc_type=doc_type.strip(), type_confidence=1.0, loinc=loinc)
                elif loinc is not None:
                    wanted["loinc"] = loinc
                now = utcnow()
                changed = False
                target = {
                    "documents": [row.id],
                    "patient": new_mrn,
                    "type": wanted.get("doc_type", row.doc_type),
                }
                clerk = Actor(user, self._actor.origin)
                append_entry(session, clerk, "file", target, [row.patient_mrn, new_mrn])  # same transaction
                for field, new in wanted.items():
                    old = getattr(row, field)
                    if old == new:
                        continue
                    setattr(row, field, new)
                    session.add(
                        CorrectionRow(
                            document_id=row.id, at=now, user=user, field=field, old=_text(old), new=_text(new)
                        )
                    )
                    changed = True
                if changed:
                    pdf = self._root / row.pdf_path
                    backup = self._backup(pdf)
                    row.pdf_sha256 = update_pdf_metadata(pdf, _row_metadata(row))
                    row.updated_at = now
                    session.flush()
                result = _document_dict(row, with_text=False)
        except BaseException:
            if backup is not None and pdf is not None:
                backup.replace(pdf)  # the database kept the old metadata: so does the PDF
                backup.unlink(missing_ok=True)  # still there if it was the same file
            raise
        if backup is not None:
            backup.unlink(missing_ok=True)
        log.info("document %d filed by a clerk (%s)", doc_id, "changed" if backup else "unchanged")
        return result

    def resolve_duplicate(
        self, doc_id: int, *, keep: Literal["both", "this", "other"], user: str
    ) -> dict[str, Any]:
        """A clerk keeps both documents of a possible duplicate pair, or marks one superseded
        (chartclerk.store.dedupe.resolve_duplicate); recorded and audited in one transaction."""
        from chartclerk.store.dedupe import resolve_duplicate

        if not user.strip():
            raise ArchiveError("a user name is required to resolve a duplicate")
        with session_scope(self._writer) as session:
            row = _load_document(session, doc_id)
            return resolve_duplicate(
                session, row, keep, Actor(user.strip(), self._actor.origin), now=utcnow()
            )

    def _backup(self, path: Path) -> Path:
        backup = self.tmp_dir / f"{path.name}.{uuid.uuid4().hex}.bak"
        try:
            os.link(path, backup)
        except OSError:
            shutil.copy2(path, backup)
        return backup

    # -- search -----------------------------------------------------------------------------------

    def search(
        self, query: str, *, patient: str | None = None, doc_type: str | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Pages matching every word/phrase of ``query`` and the filters, best first.

        Bare words are terms, "double-quoted words" a phrase; FTS5 syntax is not
        interpreted. ``patient`` is an MRN (leading zeros optional), ``doc_type`` a type;
        both filters are exact. Every hit holds every term (porter-stemmed).

        Ranking on SQLite (chartclerk.store.search has the details): when every term is
        a single word on fewer than ``search.COUNT_CAP`` (2,000) pages, all matches are
        ranked by FTS5's bm25(). Otherwise (a more common word, or a phrase) only the
        newest ``max(search.WINDOW, limit)`` (200) matching pages (highest page ids,
        filters applied first) are ranked, by the same BM25 with a common term's page
        count estimated; older matches are not returned, so narrow such a query with more
        words, ``patient`` or ``doc_type``.
        Ties: older page first. PostgreSQL: the same bounds with ts_rank
        (chartclerk.store.search_pg). Elsewhere: a LIKE scan scored by occurrences (small
        archives only). The search is recorded in the audit log."""
        terms = fts_terms(query)
        hits: list[SearchHit] = []
        if terms and limit > 0:
            with session_scope(self._engine) as session:
                hits = self._search(session, terms, patient=patient, doc_type=doc_type, limit=limit)
        target: dict[str, Any] = {"query": query, "patient": patient, "type": doc_type, "limit": limit}
        target = {k: v for k, v in target.items() if v is not None}
        target["documents"] = sorted({h.document_id for h in hits})
        self.record_access("search", target, [patient, *(h.patient_mrn for h in hits)])
        return hits

    # -- audit, recovery and integrity ---------------------------------------------------------------

    @property
    def actor(self) -> Actor:
        return self._actor

    def with_actor(self, actor: Actor) -> Archive:
        """The same open archive (engine, lock) reading as ``actor``: the web app makes one per
        request so each read is recorded under the signed-in user. Close only the original."""
        view = copy.copy(self)
        view._actor = actor
        return view

    def record_access(self, action: str, target: dict[str, Any], patients: Iterable[str | None]) -> int:
        """Append an entry to the audit log (see chartclerk.store.audit); returns its id."""
        return _record_access(self._writer, self._actor, action, target, patients)

    def _audit_read(self, action: str, docs: list[dict[str, Any]], asked: str | None, **target: Any) -> None:
        """Record what was read: the documents, their patients and the patient asked about."""
        ids = [d["id"] for d in docs]
        self.record_access(action, {**target, "documents": ids}, [asked, *(d["patient_mrn"] for d in docs)])

    def audit_log(
        self,
        *,
        patient: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        user: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries, oldest first, optionally only those touching ``patient``, at or after
        ``since``, before ``until`` and by ``user`` (reading them is itself recorded)."""
        entries = _read_audit(self._engine, patient=patient, since=since)
        if until is not None:
            entries = [e for e in entries if e.at < until]
        if user is not None:
            entries = [e for e in entries if e.user == user]
        filters = {
            "patient": patient,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "user": user,
        }
        self.record_access(
            "audit", {**{k: v for k, v in filters.items() if v}, "entries": len(entries)}, [patient]
        )
        return entries

    def verify_audit(self) -> ChainReport:
        return _verify_chain(self._engine)

    def recover(self) -> RecoveryReport:
        """Clean up what crashed processes left (see chartclerk.store.recovery); a no-op while
        another process has the archive open."""
        return recover_archive(self._root, self._engine, self._require_lock())

    def verify(self) -> VerifyReport:
        """Check files, hashes, rows, index, permissions and the audit chain (chartclerk.store.verify)."""
        return verify_archive(self._root, self._engine, self._require_lock())

    def _require_lock(self) -> ArchiveLock:
        if self._lock is None:
            self._lock = ArchiveLock.acquire(self._root)
        return self._lock

    # -- patients ---------------------------------------------------------------------------------

    @property
    def roster(self) -> ArchiveRoster:
        """The master patient index (implements chartclerk.classify.models.Roster)."""
        return self._roster

    def import_patients(self, patients: Iterable[Patient]) -> int:
        """Insert or update (by MRN) the roster entries, in one transaction; returns how many were read."""
        return import_patients(self._writer, patients)

    def patient_count(self) -> int:
        return self._roster.count()


# -- helpers --------------------------------------------------------------------------------------


def _private_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask


def _check_document(doc: DocumentRecord) -> None:
    first, last = doc.source_pages
    where = f"document {doc.source.sha256[:12]} p{first}"
    if doc.status not in ("filed", "review"):
        raise ArchiveError(f"{where}: unknown status {doc.status!r}")
    if doc.status == "filed" and not doc.patient_mrn:
        raise ArchiveError(f"{where}: a filed document needs a patient MRN")
    if not 1 <= first <= last:
        raise ArchiveError(f"{where}: bad page range {first}-{last}")
    if not doc.pages:
        raise ArchiveError(f"{where}: no pages")
    numbers = [page.number for page in doc.pages]
    if len(set(numbers)) != len(numbers):
        raise ArchiveError(f"{where}: repeated page numbers")


def _title(doc_type: str, source_name: str, first: int, last: int) -> str:
    kind = doc_type.replace("_", " ").strip().capitalize() or "Document"
    pages = f"page {first}" if first == last else f"pages {first}-{last}"
    return f"{kind} ({source_name}, {pages})"


def _document_query(sha: str, first: int) -> Any:
    return select(DocumentRow).where(DocumentRow.source_sha256 == sha, DocumentRow.first_page == first)


def _archived(root: Path, row: DocumentRow, *, created: bool) -> ArchivedDocument:
    return ArchivedDocument(
        id=row.id,
        pdf_path=root / row.pdf_path,
        pdf_sha256=row.pdf_sha256,
        status=cast(Literal["filed", "review"], row.status),
        created=created,
    )


def _document_row(doc: DocumentRecord, rel: Path, pdf_sha: str) -> DocumentRow:
    first, last = doc.source_pages
    row = DocumentRow(
        source_sha256=doc.source.sha256.lower(),
        first_page=first,
        last_page=last,
        doc_type=doc.doc_type,
        loinc=doc.loinc,
        type_confidence=float(doc.type_confidence),
        patient_mrn=doc.patient_mrn,
        patient_confidence=None if doc.patient_confidence is None else float(doc.patient_confidence),
        status=doc.status,
        review_reason=doc.review_reason,
        match_reason=doc.match_reason,
        candidates_json=json.dumps([[mrn, float(score)] for mrn, score in doc.candidates]),
        pdf_path=rel.as_posix(),
        pdf_sha256=pdf_sha,
    )
    row.pages = [
        PageRow(
            number=page.number,
            source_page=page.source_page,
            skew_degrees=float(page.skew_degrees),
            rotation_degrees=int(page.rotation_degrees),
            ocr_confidence=None if page.ocr_confidence is None else float(page.ocr_confidence),
            text=page.text,
            words=_words_json(page.words),
            text_source=page.text_source,
        )
        for page in doc.pages
    ]
    return row


def _words_json(words: tuple[WordBox, ...]) -> str:
    return json.dumps(
        [[w.text, w.left, w.top, w.width, w.height, w.confidence] for w in words],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _words_from_json(value: str) -> tuple[WordBox, ...]:
    return tuple(
        WordBox(str(text), float(left), float(top), float(width), float(height), conf)
        for text, left, top, width, height, conf in json.loads(value)
    )


def _load_document(session: Session, doc_id: int) -> DocumentRow:
    row = session.get(
        DocumentRow, doc_id, options=[joinedload(DocumentRow.source), selectinload(DocumentRow.pages)]
    )
    if row is None:
        raise NotFoundError(f"document {doc_id} not found")
    return row


def _row_metadata(row: DocumentRow) -> PdfMetadata:
    return PdfMetadata(
        title=_title(row.doc_type, row.source.name, row.first_page, row.last_page),
        doc_type=row.doc_type,
        loinc=row.loinc,
        patient_mrn=row.patient_mrn,
        source_name=row.source.name,
        source_pages=(row.first_page, row.last_page),
    )


def _mrns_like(patient: str) -> Any:
    """Roster MRNs equal to ``patient`` as given or without leading zeros (a subquery)."""
    return select(PatientRow.mrn).where(
        (PatientRow.mrn == patient.strip()) | (PatientRow.mrn_norm == normalize_mrn(patient))
    )


def _document_dict(row: DocumentRow, *, with_text: bool) -> dict[str, Any]:
    """The JSON contract read by outside tools: keys may be added, never removed or renamed."""
    pages: list[dict[str, Any]] = []
    for page in row.pages:
        item: dict[str, Any] = {
            "number": page.number,
            "source_page": page.source_page,
            "skew_degrees": page.skew_degrees,
            "rotation_degrees": page.rotation_degrees,
            "ocr_confidence": page.ocr_confidence,
            "text_source": page.text_source,
        }
        if with_text:
            item["text"] = page.text
        pages.append(item)
    return {
        "id": row.id,
        "source": row.source.name,
        "source_pages": [row.first_page, row.last_page],
        "sha256": row.source_sha256,
        "type": row.doc_type,
        "loinc": row.loinc,
        "type_confidence": row.type_confidence,
        "patient_mrn": row.patient_mrn,
        "patient_confidence": row.patient_confidence,
        "status": row.status,
        "review_reason": row.review_reason,
        "match_reason": row.match_reason,
        "candidates": [[str(mrn), float(score)] for mrn, score in json.loads(row.candidates_json)],
        "pdf_path": row.pdf_path,
        "pdf_sha256": row.pdf_sha256,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "duplicate_of": row.duplicate_of,
        "duplicate_similarity": row.duplicate_similarity,
        "superseded_by": row.superseded_by,
        "pages": pages,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
