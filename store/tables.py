"""The archive database schema (SQLAlchemy 2.0 typed ORM).

The schema is created and changed only by the Alembic migrations in
``chartclerk/store/migrations``; these classes describe it for queries. A test
checks that the migrations and these classes agree.

On SQLite the full-text index ``pages_fts`` (FTS5, migration 0004: columns ``text``,
the page text, and ``scope``, its document's patient and type tokens; migration 0009
adds ``idents``, the page's identifiers folded for OCR look-alikes), the view
``pages_scoped`` it reads them from and the triggers that keep it in sync are created
by the migrations with raw SQL; they have no ORM class (see chartclerk.store.search).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from chartclerk.store.idents import identifier_index

# Stable constraint names, so later migrations can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FTS_TABLE = "pages_fts"


def _page_idents(context: DefaultExecutionContext) -> str:
    """The idents column of a page being written: from its text (see chartclerk.store.idents)."""
    params: dict[str, object] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return identifier_index(str(params.get("text") or ""))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PatientRow(Base):
    """One master patient index entry, as imported from the roster."""

    __tablename__ = "patients"

    mrn: Mapped[str] = mapped_column(String(64), primary_key=True)
    # MRN without leading zeros: "000123" and "123" find the same patient.
    mrn_norm: Mapped[str] = mapped_column(String(64), index=True)
    last: Mapped[str] = mapped_column(String(128))
    first: Mapped[str] = mapped_column(String(128))
    dob: Mapped[dt.date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(16), default="")
    # Blocking key: Soundex code of the normalized last name; (last_key, dob) answers the
    # matcher's "this name near these dates" in one index seek per pair (migration 0003).
    last_key: Mapped[str] = mapped_column(String(8))

    __table_args__ = (Index("ix_patients_last_key_dob", "last_key", "dob"),)


class PatientIdentifierRow(Base):
    """A roster patient's other identifier (migration 0006): an insurance member ID, an account or
    encounter number, a previous MRN (after a merge), or a former name / alias. Matching uses the
    numbers as it uses the MRN and the names as the patient's own; ``value_norm`` is the number as
    MRNs are compared (no white space or leading zeros, upper case), the name as "LAST, FIRST M"
    for aliases."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (
        CheckConstraint("kind IN ('member_id', 'account', 'previous_mrn', 'alias')", name="kind"),
        UniqueConstraint("patient_mrn", "kind", "value_norm", name="uq_patient_identifiers_value"),
        Index("ix_patient_identifiers_kind_value", "kind", "value_norm"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_mrn: Mapped[str] = mapped_column(
        String(64), ForeignKey("patients.mrn", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(256))  # as imported
    value_norm: Mapped[str] = mapped_column(String(256))


class SourceRow(Base):
    """An original scan file, kept byte for byte under originals/."""

    __tablename__ = "sources"
    __table_args__ = (CheckConstraint("status IN ('partial', 'complete')", name="status"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int] = mapped_column(Integer)
    stored_path: Mapped[str] = mapped_column(String(1024))  # relative to the archive folder
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    documents: Mapped[list[DocumentRow]] = relationship(back_populates="source")


class DocumentRow(Base):
    """One logical document (a page range of a source) and its searchable PDF."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source_sha256", "first_page"),
        CheckConstraint("status IN ('filed', 'review')", name="status"),
        CheckConstraint("status = 'review' OR patient_mrn IS NOT NULL", name="filed_has_patient"),
        CheckConstraint("first_page >= 1 AND last_page >= first_page", name="page_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("sources.sha256"))
    first_page: Mapped[int] = mapped_column(Integer)
    last_page: Mapped[int] = mapped_column(Integer)
    doc_type: Mapped[str] = mapped_column(String(64), index=True)
    loinc: Mapped[str | None] = mapped_column(String(32))
    type_confidence: Mapped[float] = mapped_column(Float)
    patient_mrn: Mapped[str | None] = mapped_column(String(64), ForeignKey("patients.mrn"), index=True)
    patient_confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)
    review_reason: Mapped[str | None] = mapped_column(String(256))
    match_reason: Mapped[str] = mapped_column(String(256), default="")
    candidates_json: Mapped[str] = mapped_column(Text, default="[]")
    pdf_path: Mapped[str] = mapped_column(String(1024))  # relative to the archive folder
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # Near duplicates (migration 0009, chartclerk.store.dedupe): the older document this one
    # is possibly a second scan of, with the similarity; and the document a clerk kept
    # instead of this one (superseded: hidden from the chart and from search by default).
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    duplicate_similarity: Mapped[float | None] = mapped_column(Float)
    superseded_by: Mapped[int | None] = mapped_column(Integer)

    source: Mapped[SourceRow] = relationship(back_populates="documents")
    pages: Mapped[list[PageRow]] = relationship(
        back_populates="document", order_by="PageRow.number", cascade="all, delete-orphan"
    )
    corrections: Mapped[list[CorrectionRow]] = relationship(
        back_populates="document", order_by="CorrectionRow.id", cascade="all, delete-orphan"
    )


class PageRow(Base):
    """One page of a document with its OCR text (indexed in pages_fts on SQLite)."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1-based within the document
    source_page: Mapped[int] = mapped_column(Integer)  # 1-based within the source file
    skew_degrees: Mapped[float] = mapped_column(Float)
    rotation_degrees: Mapped[int] = mapped_column(Integer)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    # Word boxes (migration 0005): JSON [[text, left, top, width, height, confidence], ...] in
    # fractions of the archived page, for drawing search hits on the page image.
    words: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    # Where the text came from: 'ocr' (tesseract) or 'file' (a digital page's own text layer).
    text_source: Mapped[str] = mapped_column(String(8), default="ocr", server_default="ocr")
    # The page's identifiers folded for OCR look-alikes (migration 0009, chartclerk.store.idents):
    # made from the text whenever a page is written through the ORM; indexed in pages_fts.
    idents: Mapped[str] = mapped_column(Text, default=_page_idents, onupdate=_page_idents, server_default="")

    document: Mapped[DocumentRow] = relationship(back_populates="pages")


class DocSignatureRow(Base):
    """A document's near-duplicate signature (chartclerk.store.dedupe): MinHash and numbers."""

    __tablename__ = "doc_signatures"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)  # NUM_PERM uint32 values
    numbers: Mapped[str] = mapped_column(Text)  # the digits of its number tokens, in reading order


class DocBucketRow(Base):
    """One LSH band key of a document's MinHash: documents sharing a key are candidates."""

    __tablename__ = "doc_buckets"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)


class CorrectionRow(Base):
    """A clerk's change to a document (who, when, which field, old and new value)."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(128))
    field: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)

    document: Mapped[DocumentRow] = relationship(back_populates="corrections")


class AuditRow(Base):
    """One access to patient data (append-only; each entry hashes the one before it).

    Written and checked only through ``chartclerk.store.audit``; on SQLite, triggers made by
    migration 0002 refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(Text)  # JSON: what was read (document ids, query, filters)
    patients: Mapped[str] = mapped_column(Text)  # JSON list of the MRNs touched
    origin: Mapped[str] = mapped_column(String(512))  # program, host, OS user, ssh client
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class UserRow(Base):
    """A person who signs in to the web app (migration 0007): a role and an argon2id hash."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('clerk', 'auditor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    # A one-time password (printed by `users add`/`users reset`): it must be changed at first sign-in.
    must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SessionRow(Base):
    """A signed-in browser (migration 0007). The cookie holds a random token; only its SHA-256
    is stored, so a copy of the database signs nobody in. ``ended_at`` set: logged out/expired."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    # The last search typed in this session, so the viewer can draw its hits without the words
    # travelling in a URL (no PHI in URLs or access logs).
    last_query: Mapped[str | None] = mapped_column(Text)


class LoginAttemptRow(Base):
    """One sign-in attempt (migration 0007): lockout counts recent failures per user and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)


class RestrictionRow(Base):
    """A document marked restricted (migration 0008): substance-use treatment records under 42 CFR
    Part 2, psychotherapy notes. A release leaves it out unless the request names it explicitly.
    Set and lifted only through ``chartclerk.store.release`` (each change is audited)."""

    __tablename__ = "document_restrictions"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(256))
    user: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReleaseRequestRow(Base):
    """A request for records (migration 0008): who asked, for whom, why, on what legal basis,
    when it came and is due, its scope and its status."""

    __tablename__ = "release_requests"
    __table_args__ = (
        CheckConstraint("status IN ('received', 'extended', 'released', 'denied')", name="status"),
        CheckConstraint("due_on >= received_on", name="due_after_received"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_mrn: Mapped[str] = mapped_column(String(64), ForeignKey("patients.mrn"), index=True)
    requester: Mapped[str] = mapped_column(String(256))
    address: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(512))
    basis: Mapped[str] = mapped_column(String(32))
    received_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    extension_reason: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(512))
    # Scope: document types (JSON list, empty = all) and dates, or chosen document ids (JSON list).
    scope_types: Mapped[str] = mapped_column(Text, default="[]")
    scope_from: Mapped[dt.date | None] = mapped_column(Date)
    scope_to: Mapped[dt.date | None] = mapped_column(Date)
    scope_documents: Mapped[str] = mapped_column(Text, default="[]")
    include_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    packet_sha256: Mapped[str | None] = mapped_column(String(64))
    packet_pages: Mapped[int | None] = mapped_column(Integer)
    released_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DisclosureRow(Base):
    """One disclosure of patient records (migration 0008): append-only and hash-chained like
    ``audit_log``; written and checked only through ``chartclerk.store.disclosures``."""

    __tablename__ = "disclosures"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    patient_mrn: Mapped[str] = mapped_column(String(64), index=True)
    recipient: Mapped[str] = mapped_column(String(256))
    address: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text)  # what was disclosed (types, dates, page counts)
    purpose: Mapped[str] = mapped_column(String(512))
    basis: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(Integer)
    documents: Mapped[str] = mapped_column(Text)  # JSON list of document ids
    packet_sha256: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class PageJobRow(Base):
    """One page of a file read by Celery workers (migration 0011; chartclerk.distributed).

    Keyed by (source sha256, page): ``job`` is the current submission (a delivery of an older
    one is ignored), ``attempts`` counts deliveries that started the page, ``result`` is the
    pickled page outcome once read (written once: a page read twice is stored once)."""

    __tablename__ = "page_jobs"

    source_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, failed
    attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(256))
    error: Mapped[str | None] = mapped_column(String(512))
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class FileJobRow(Base):
    """One file whose pages Celery workers read (migration 0013; chartclerk.distributed).

    Keyed by the source's sha256; ``job`` is the current submission (its page_jobs rows carry
    the same job id). ``state``: reading (pages still to read), assembling (a worker is
    splitting, classifying, matching and archiving it), then archived, duplicate or failed.
    The worker that stores the file's last page assembles it under a lock that dies with its
    process; ``attempts`` counts assemblies started, ``outcome`` is the pickled FileOutcome
    the submitting process reports."""

    __tablename__ = "file_jobs"

    source_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(4096))  # the original, as the submitting process saw it
    pages: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(256))  # host:pid that assembled it
    documents: Mapped[str | None] = mapped_column(Text)  # archived document ids, comma-separated
    error: Mapped[str | None] = mapped_column(String(512))
    outcome: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DeficiencyRow(Base):
    """A chart deficiency found on a document (migration 0010): what, where (page and region as
    fractions of the archived page), what was seen, and what a clerk did about it (who, when, why)."""

    __tablename__ = "deficiencies"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="status"),
        UniqueConstraint("document_id", "key", name="uq_deficiencies_document_key"),
        Index("ix_deficiencies_status_found_at", "status", "found_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    patient_mrn: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the same finding found again keeps its row
    page: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(128))  # JSON [left, top, width, height]
    words: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text)
    sure: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    found_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class DeficiencyScanRow(Base):
    """Which searchable PDF of a document the deficiency analysis last read (migration 0010): a
    document is read again when its PDF changes (re-filed) or the analysis does."""

    __tablename__ = "deficiency_scans"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    scanned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
