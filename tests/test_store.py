"""The archive: schema and migrations, originals, documents and their PDFs, search, roster."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import inspect

from chartclerk.classify.models import Patient
from chartclerk.errors import ArchiveError, NotFoundError
from chartclerk.settings import Settings, _resolve_paths
from chartclerk.store import (
    Archive,
    DocumentRecord,
    PageRecord,
    PdfMetadata,
    SourceRecord,
    WordBox,
    assemble_pdf,
    make_page_pdf,
    update_pdf_metadata,
)
from chartclerk.store import roster as roster_module
from chartclerk.store.db import alembic_config, head_revision, include_in_autogenerate
from chartclerk.store.fulltext import search_backend
from chartclerk.store.pdf import read_pdf_metadata
from chartclerk.store.roster import normalize_mrn, soundex
from chartclerk.store.search import fts_expression
from chartclerk.store.tables import Base
from chartclerk.tests.services import sqlite_only

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TESSERACT = shutil.which("tesseract")
PDFTOTEXT = shutil.which("pdftotext")

PATIENTS = [
    Patient(mrn="000123", last="Smith", first="Anna", dob=dt.date(1960, 2, 1), sex="F"),
    Patient(mrn="4567", last="Smyth", first="Bob", dob=dt.date(1971, 5, 9), sex="M"),
    Patient(mrn="890", last="Núñez", first="Carla", dob=dt.date(1960, 2, 1), sex="F"),
]


# -- fixtures and builders ------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """On SQLite and on PostgreSQL (tests of SQLite's own machinery are ``@sqlite_only``)."""
    return _resolve_paths(
        Settings(archive=tmp_path / "archive", inbox=tmp_path / "inbox", database=database_url), tmp_path
    )


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    with Archive.open(settings) as opened:
        yield opened


@pytest.fixture(scope="module")
def blank_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small page PDF without a text layer: enough for database tests."""
    path = tmp_path_factory.mktemp("pages") / "blank.pdf"
    path.write_bytes(make_page_pdf(np.full((110, 85), 255, np.uint8), 10.0, b""))
    return path


def render(lines: list[str], size: tuple[int, int] = (1000, 300)) -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 42)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 90 * i), line, font=font, fill=0)
    return np.asarray(image, dtype=np.uint8)


def tesseract_text_layer(image: np.ndarray[Any, np.dtype[np.uint8]], folder: Path, dpi: int = 300) -> bytes:
    assert TESSERACT is not None
    png = folder / "page.png"
    Image.fromarray(image).save(png, dpi=(dpi, dpi))
    subprocess.run(
        [TESSERACT, str(png), str(folder / "layer"), "--dpi", str(dpi), "-c", "textonly_pdf=1", "pdf"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return (folder / "layer.pdf").read_bytes()


def pdftotext(path: Path) -> str:
    assert PDFTOTEXT is not None
    done = subprocess.run([PDFTOTEXT, str(path), "-"], check=True, capture_output=True, text=True, timeout=60)
    return done.stdout


def make_source(folder: Path, name: str = "Scan_0001.PDF", content: bytes | None = None) -> SourceRecord:
    data = content if content is not None else b"%PDF-1.4 fake scan " + name.encode() + bytes(range(256)) * 50
    path = folder / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return SourceRecord(
        path=path, name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), page_count=9
    )


def make_doc(
    source: SourceRecord,
    page_pdf: Path,
    texts: list[str],
    *,
    first: int = 1,
    status: str = "review",
    mrn: str | None = None,
    doc_type: str = "lab_report",
    loinc: str | None = "11502-2",
) -> DocumentRecord:
    pages = tuple(
        PageRecord(
            number=i + 1,
            source_page=first + i,
            skew_degrees=0.5 * i,
            rotation_degrees=90 if i else 0,
            ocr_confidence=91.5 if i else None,
            text=t,
            pdf_page=page_pdf,
            words=tuple(
                WordBox(word, 0.1 + 0.1 * j, 0.2, 0.08, 0.02, 90.0 if i else None)
                for j, word in enumerate(t.split())
            ),
            text_source="ocr" if i else "file",
        )
        for i, t in enumerate(texts)
    )
    return DocumentRecord(
        source=source,
        source_pages=(first, first + len(texts) - 1),
        doc_type=doc_type,
        loinc=loinc,
        type_confidence=0.8,
        patient_mrn=mrn,
        patient_confidence=0.95 if mrn else None,
        status=status,  # type: ignore[arg-type]
        review_reason=None if status == "filed" else "no identifiers",
        match_reason="mrn+dob agree" if mrn else "no identifiers",
        candidates=(("000123", 0.95), ("4567", 0.4)) if mrn else (),
        pages=pages,
    )


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- schema ---------------------------------------------------------------------------------------


@sqlite_only
def test_open_creates_private_layout_and_schema(settings: Settings) -> None:
    with Archive.open(settings) as archive:
        root = settings.archive
        for folder in (root, root / "originals", root / "documents", root / "tmp"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert archive.tmp_dir == root / "tmp"
        db = root / "chartclerk.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        with archive.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    with sqlite3.connect(db) as raw:
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
    assert {"patients", "sources", "documents", "pages", "corrections", "pages_fts"} <= names
    assert {"ix_patients_last_key_dob", "ix_patients_dob", "ix_patients_mrn_norm", "pages_fts_ai"} <= names
    Archive.open(settings).close()  # reopening an up-to-date archive is a no-op


def test_migrations_match_orm_and_downgrade(archive: Archive) -> None:
    with archive.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_in_autogenerate}
        )
        assert compare_metadata(context, Base.metadata) == []
    url = archive.engine.url.render_as_string(hide_password=False)
    with archive.engine.begin() as conn:
        config = alembic_config(url)
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        assert not inspect(conn).has_table("pages")
        command.upgrade(config, "head")
        if conn.dialect.name == "sqlite":
            assert (
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name='pages_fts'").scalar()
                == 1
            )
        else:
            assert "tsv" in {c["name"] for c in inspect(conn).get_columns("pages")}
            assert "scope" in {c["name"] for c in inspect(conn).get_columns("pages")}
            assert "ix_pages_keys" in {i["name"] for i in inspect(conn).get_indexes("pages")}


# -- originals ------------------------------------------------------------------------------------


def test_store_original_is_byte_identical_and_idempotent(archive: Archive, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    original = source.path.read_bytes()
    assert archive.source_status(source.sha256) is None
    stored = archive.store_original(source)
    assert stored == archive.root / "originals" / source.sha256[:2] / f"{source.sha256}.pdf"
    assert stored.read_bytes() == original
    assert source.path.read_bytes() == original  # the source is only read
    assert archive.source_status(source.sha256) == "partial"
    before = stored.stat().st_mtime_ns
    assert archive.store_original(source) == stored
    assert stored.stat().st_mtime_ns == before  # an intact copy is kept
    stored.write_bytes(b"damaged")
    archive.store_original(source)
    assert stored.read_bytes() == original
    archive.complete_source(source.sha256)
    assert archive.source_status(source.sha256) == "complete"
    archive.store_original(source)
    assert archive.source_status(source.sha256) == "complete"  # never downgraded
    with pytest.raises(NotFoundError):
        archive.complete_source("0" * 64)


def test_store_original_rejects_a_wrong_hash(archive: Archive, tmp_path: Path) -> None:
    source = make_source(tmp_path, "other.tif")
    wrong = SourceRecord(source.path, source.name, "ab" * 32, source.size, source.page_count)
    with pytest.raises(ArchiveError, match="changed since it was hashed"):
        archive.store_original(wrong)
    assert files_under(archive.root / "originals") == []
    assert archive.source_status(wrong.sha256) is None


# -- documents ------------------------------------------------------------------------------------


def test_archive_document_round_trip_and_json_contract(
    archive: Archive, tmp_path: Path, blank_page_pdf: Path
) -> None:
    archive.import_patients(PATIENTS)
    source = make_source(tmp_path)
    archive.store_original(source)
    doc = make_doc(
        source, blank_page_pdf, ["Hemoglobin A1c 6.1 %", "Page two"], first=3, status="filed", mrn="000123"
    )
    result = archive.archive_document(doc)
    assert result.created and result.status == "filed"
    assert result.pdf_path == archive.root / "documents" / source.sha256[:2] / f"{source.sha256}-p3.pdf"
    assert hashlib.sha256(result.pdf_path.read_bytes()).hexdigest() == result.pdf_sha256
    with pikepdf.open(result.pdf_path) as pdf:
        assert len(pdf.pages) == 2
    assert files_under(archive.tmp_dir) == []

    again = archive.archive_document(doc)
    assert not again.created and again.id == result.id and again.pdf_sha256 == result.pdf_sha256
    assert len(archive.list_documents()) == 1

    got = archive.get_document(result.id, with_text=True)
    json.dumps(got)  # JSON-ready
    contract: dict[str, type | tuple[type, ...]] = {
        "id": int,
        "source": str,
        "source_pages": list,
        "sha256": str,
        "type": str,
        "loinc": (str, type(None)),
        "type_confidence": float,
        "patient_mrn": (str, type(None)),
        "patient_confidence": (float, type(None)),
        "status": str,
        "pages": list,
    }
    for key, kind in contract.items():
        assert isinstance(got[key], kind), key
    assert got["source"] == "Scan_0001.PDF" and got["source_pages"] == [3, 4]
    assert got["sha256"] == source.sha256 and got["type"] == "lab_report" and got["loinc"] == "11502-2"
    assert got["patient_mrn"] == "000123" and got["status"] == "filed"
    assert got["pages"][0] == {
        "number": 1,
        "source_page": 3,
        "skew_degrees": 0.0,
        "rotation_degrees": 0,
        "ocr_confidence": None,
        "text_source": "file",
        "text": "Hemoglobin A1c 6.1 %",
    }
    assert got["pages"][1]["text_source"] == "ocr"
    assert archive.page_words(result.id, 1) == (
        WordBox("Hemoglobin", 0.1, 0.2, 0.08, 0.02, None),
        WordBox("A1c", 0.2, 0.2, 0.08, 0.02, None),
        WordBox("6.1", 0.30000000000000004, 0.2, 0.08, 0.02, None),
        WordBox("%", 0.4, 0.2, 0.08, 0.02, None),
    )
    assert [w.text for w in archive.page_words(result.id, 2)] == ["Page", "two"]
    assert archive.page_words(result.id, 2)[0].confidence == 90.0
    for doc_id, number in ((result.id, 3), (999, 1)):
        with pytest.raises(NotFoundError):
            archive.page_words(doc_id, number)
    assert got["pages"][1]["rotation_degrees"] == 90 and got["pages"][1]["ocr_confidence"] == 91.5
    assert "text" not in archive.get_document(result.id, with_text=False)["pages"][0]
    listed = archive.list_documents(patient="123", doc_type="lab_report", status="filed")
    assert [d["id"] for d in listed] == [result.id] and "text" not in listed[0]["pages"][0]
    assert archive.list_documents(status="review") == []
    assert archive.pdf_path(result.id) == result.pdf_path
    with pytest.raises(NotFoundError):
        archive.get_document(999, with_text=False)
    with pytest.raises(NotFoundError):
        archive.pdf_path(999)
    meta = read_pdf_metadata(result.pdf_path)
    assert meta["Subject"] == "lab_report" and meta["Creator"] == "chartclerk"
    assert "MRN 000123" in meta["Keywords"] and "LOINC 11502-2" in meta["Keywords"]
    assert "Scan_0001.PDF pages 3-4" in meta["Keywords"]


def test_filed_document_needs_a_known_patient(archive: Archive, tmp_path: Path, blank_page_pdf: Path) -> None:
    source = make_source(tmp_path)
    archive.store_original(source)
    with pytest.raises(ArchiveError, match="needs a patient MRN"):
        archive.archive_document(make_doc(source, blank_page_pdf, ["x"], status="filed", mrn=None))
    with pytest.raises(ArchiveError, match="not in the roster"):
        archive.archive_document(make_doc(source, blank_page_pdf, ["x"], status="filed", mrn="999"))
    assert files_under(archive.root / "documents") == [] and files_under(archive.tmp_dir) == []
    assert archive.list_documents() == []


def test_document_needs_its_source_stored(archive: Archive, tmp_path: Path, blank_page_pdf: Path) -> None:
    source = make_source(tmp_path)
    with pytest.raises(ArchiveError, match="store_original"):
        archive.archive_document(make_doc(source, blank_page_pdf, ["x"]))
    assert files_under(archive.root / "documents") == []


def test_failed_transaction_leaves_no_pdf(archive: Archive, tmp_path: Path, blank_page_pdf: Path) -> None:
    source = make_source(tmp_path)
    archive.store_original(source)
    good = make_doc(source, blank_page_pdf, ["fine"])
    bad_page = PageRecord(2, 2, 0.0, 0, None, None, blank_page_pdf)  # type: ignore[arg-type]  # NOT NULL
    bad = dataclasses.replace(good, source_pages=(1, 2), pages=(*good.pages, bad_page))
    with pytest.raises(ArchiveError, match="(?i)not[ -]null"):
        archive.archive_document(bad)
    assert files_under(archive.root / "documents") == [] and files_under(archive.tmp_dir) == []
    assert archive.list_documents() == []
    assert archive.search("fine") == []
    assert archive.archive_document(good).created  # nothing was left half-done


def test_file_document_records_corrections(archive: Archive, tmp_path: Path, blank_page_pdf: Path) -> None:
    archive.import_patients(PATIENTS)
    source = make_source(tmp_path)
    archive.store_original(source)
    result = archive.archive_document(
        make_doc(source, blank_page_pdf, ["Chest X-ray"], doc_type="other", loinc=None)
    )
    assert archive.get_document(result.id)["status"] == "review"
    with pytest.raises(NotFoundError):
        archive.file_document(result.id, mrn="555", doc_type=None, loinc=None, user="clerk1")
    with pytest.raises(ArchiveError, match="give an MRN"):
        archive.file_document(result.id, mrn=None, doc_type=None, loinc=None, user="clerk1")
    with pytest.raises(NotFoundError):
        archive.file_document(999, mrn="123", doc_type=None, loinc=None, user="clerk1")

    filed = archive.file_document(
        result.id, mrn="123", doc_type="imaging_report", loinc="18748-4", user="clerk1"
    )
    assert filed["status"] == "filed" and filed["patient_mrn"] == "000123"  # leading zeros restored
    assert (
        filed["patient_confidence"] == 1.0
        and filed["type"] == "imaging_report"
        and filed["loinc"] == "18748-4"
    )
    pdf = archive.pdf_path(result.id)
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == filed["pdf_sha256"] != result.pdf_sha256
    meta = read_pdf_metadata(pdf)
    assert meta["Subject"] == "imaging_report" and "MRN 000123" in meta["Keywords"]
    assert files_under(archive.tmp_dir) == []
    with archive.engine.connect() as conn:
        rows = conn.exec_driver_sql('SELECT "user", field, old, new FROM corrections ORDER BY id').all()
    assert {(f, o, n) for _, f, o, n in rows} == {
        ("patient_mrn", None, "000123"),
        ("patient_confidence", None, "1.0"),
        ("status", "review", "filed"),
        ("doc_type", "other", "imaging_report"),
        ("type_confidence", "0.8", "1.0"),
        ("loinc", None, "18748-4"),
    }
    assert {u for u, *_ in rows} == {"clerk1"}
    archive.file_document(result.id, mrn=None, doc_type=None, loinc=None, user="clerk2")  # nothing changes
    with archive.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM corrections").scalar() == 6


# -- search ---------------------------------------------------------------------------------------


@pytest.fixture
def searchable(archive: Archive, tmp_path: Path, blank_page_pdf: Path) -> dict[str, int]:
    archive.import_patients(PATIENTS)
    one = make_source(tmp_path, "one.pdf")
    two = make_source(tmp_path, "two.pdf")
    for source in (one, two):
        archive.store_original(source)
    filler = " ".join(["routine"] * 20)
    lab = archive.archive_document(
        make_doc(
            one,
            blank_page_pdf,
            [
                f"Patient seen in clinic. {filler}",
                f"Hemoglobin [note] measured. {filler} congestive heart failure",
            ],
            status="filed",
            mrn="000123",
        )
    )
    note = archive.archive_document(
        make_doc(
            two,
            blank_page_pdf,
            [f"Hemoglobin low, hemoglobin repeated, hemoglobin stable. {filler} heart failure congestive"],
            first=1,
            status="filed",
            mrn="4567",
            doc_type="progress_note",
        )
    )
    return {"lab": lab.id, "note": note.id}


def test_search_ranks_and_highlights(archive: Archive, searchable: dict[str, int]) -> None:
    hits = archive.search("hemoglobin")
    assert [(h.document_id, h.page) for h in hits] == [(searchable["note"], 1), (searchable["lab"], 2)]
    assert hits[0].score > hits[1].score
    assert hits[0].snippet.count("[Hemoglobin]") + hits[0].snippet.count("[hemoglobin]") == 3
    assert (
        hits[1].doc_type == "lab_report" and hits[1].patient_mrn == "000123" and hits[1].source == "one.pdf"
    )
    assert "(note)" in hits[1].snippet  # literal brackets never look like matches
    assert [h.document_id for h in archive.search("HEMOGLOBINS")] == [searchable["note"], searchable["lab"]]


def test_search_filters_and_phrases(archive: Archive, searchable: dict[str, int]) -> None:
    assert [h.document_id for h in archive.search("hemoglobin", patient="123")] == [searchable["lab"]]
    assert [h.document_id for h in archive.search("hemoglobin", patient="000123")] == [searchable["lab"]]
    assert [h.document_id for h in archive.search("hemoglobin", doc_type="progress_note")] == [
        searchable["note"]
    ]
    assert archive.search("hemoglobin", patient="890") == []
    phrase = archive.search('"congestive heart failure"')
    assert [(h.document_id, h.page) for h in phrase] == [(searchable["lab"], 2)]
    assert "[congestive heart failure]" in phrase[0].snippet
    assert len(archive.search("congestive heart failure")) == 2
    assert len(archive.search("hemoglobin", limit=1)) == 1


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "hemo*",
        "NEAR(",
        "NEAR(a b)",
        "-",
        "- hemoglobin",
        "OR",
        "a OR",
        "^x",
        "col:x",
        "{a b}",
    ],
)
def test_search_never_raises_on_fts_syntax(archive: Archive, searchable: dict[str, int], query: str) -> None:
    assert isinstance(archive.search(query), list)


def test_search_empty_queries(archive: Archive, searchable: dict[str, int]) -> None:
    assert archive.search("") == [] and archive.search("  ") == [] and archive.search("?!-*") == []


def test_fts_expression_quotes_everything() -> None:
    assert (
        fts_expression('hemo* "heart  failure" NEAR( x-ray OR')
        == '"hemo" AND "heart failure" AND "NEAR" AND "x ray" AND "OR"'
    )
    assert fts_expression('"unclosed phrase') == '"unclosed phrase"'
    assert fts_expression('"" * -') is None


def test_like_fallback_search(
    archive: Archive, searchable: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "_search", search_backend("other"))
    hits = archive.search("hemoglobin")
    assert [h.document_id for h in hits] == [searchable["note"], searchable["lab"]]
    assert "[Hemoglobin]" in hits[0].snippet
    assert [h.document_id for h in archive.search('"congestive heart failure"', patient="123")] == [
        searchable["lab"]
    ]


# -- roster ---------------------------------------------------------------------------------------


def test_roster_lookups(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster_module, "IMPORT_BATCH", 2)  # exercise batching
    assert archive.import_patients(PATIENTS) == 3
    assert archive.patient_count() == 3
    roster = archive.roster
    assert roster.by_mrn("000123") == PATIENTS[0]
    assert roster.by_mrn("123") == PATIENTS[0]
    assert roster.by_mrn("00004567 ") == PATIENTS[1]
    assert roster.by_mrn("999") is None and roster.by_mrn("") is None
    # Soundex blocking: Smith and Smyth share S530; the DOB brings in Núñez.
    found = roster.candidates(("SMITH",), (dt.date(1960, 2, 1),))
    assert [p.mrn for p in found] == ["000123", "4567", "890"]  # name and DOB both match first
    assert [p.mrn for p in roster.candidates(("Smythe",), ())] == ["000123", "4567"]
    assert [p.mrn for p in roster.candidates(("nunez",), ())] == ["890"]
    assert roster.candidates((), ()) == [] and roster.candidates(("!!",), ()) == []
    assert len(roster.candidates(("Smith",), (), limit=1)) == 1
    # Upsert by MRN; an MRN equal to another without leading zeros makes that lookup ambiguous.
    renamed = Patient(mrn="4567", last="Jones", first="Bob", dob=dt.date(1971, 5, 9), sex="M")
    assert archive.import_patients([renamed, Patient("123", "Other", "Eve", dt.date(1999, 1, 1))]) == 2
    assert archive.patient_count() == 4
    assert roster.by_mrn("4567") == renamed
    assert roster.by_mrn("0123") is None  # "000123" and "123": ambiguous
    assert roster.by_mrn("000123") == PATIENTS[0]  # exact match still wins
    with pytest.raises(ArchiveError, match="roster entry 1: empty MRN"):
        archive.import_patients([Patient(" ", "X", "Y", dt.date(2000, 1, 1))])


def test_normalizers() -> None:
    assert (
        normalize_mrn(" 000123 ") == "123" and normalize_mrn("000") == "0" and normalize_mrn("a01") == "A01"
    )
    codes = {"Robert": "R163", "Rupert": "R163", "Ashcraft": "A261", "Tymczak": "T522", "Pfister": "P236"}
    assert {name: soundex(name) for name in codes} == codes
    assert soundex("Honeyman") == "H555" and soundex("O'Brien") == soundex("OBrien") and soundex("") == ""


# -- PDFs -----------------------------------------------------------------------------------------


@pytest.mark.skipif(TESSERACT is None or PDFTOTEXT is None, reason="needs tesseract and pdftotext")
def test_page_pdfs_are_searchable_and_labelled(tmp_path: Path) -> None:
    gray = render(["Discharge summary", "Hemoglobin stable"])
    page = tmp_path / "p1.pdf"
    page.write_bytes(make_page_pdf(gray, 300.0, tesseract_text_layer(gray, tmp_path), jpeg_quality=70))
    color = np.stack([gray] * 3, axis=2)
    color_page = tmp_path / "p2.pdf"
    color_page.write_bytes(
        make_page_pdf(color, 300.0, tesseract_text_layer(render(["Follow up visit"]), tmp_path))
    )
    with pikepdf.open(page) as pdf:
        box = [float(v) for v in pdf.pages[0].mediabox]
        assert box == pytest.approx([0, 0, 1000 * 72 / 300, 300 * 72 / 300])
        xobjects = pdf.pages[0].Resources.XObject.values()
        images = [x for x in xobjects if x.Subtype == pikepdf.Name.Image]
        assert len(images) == 1
        assert images[0].Filter == pikepdf.Name.DCTDecode and images[0].ColorSpace == pikepdf.Name.DeviceGray

    out = tmp_path / "docs" / "doc.pdf"
    metadata = PdfMetadata(
        "Discharge summary (scan.pdf, pages 1-2)",
        "discharge_summary",
        "18842-5",
        "000123",
        "scan.pdf",
        (1, 2),
    )
    digest = assemble_pdf([page, color_page], out, metadata)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [p.name for p in out.parent.iterdir()] == ["doc.pdf"]  # no temporary file left
    words = pdftotext(out).lower().split()
    assert {"discharge", "summary", "hemoglobin", "stable", "follow", "visit"} <= set(words)
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 2
        assert str(pdf.docinfo["/Title"]) == metadata.title
        assert str(pdf.docinfo["/Subject"]) == "discharge_summary"
        assert str(pdf.docinfo["/Creator"]) == "chartclerk"
        keywords = str(pdf.docinfo["/Keywords"])
        assert "LOINC 18842-5" in keywords and "MRN 000123" in keywords and "scan.pdf pages 1-2" in keywords
        xmp = pdf.open_metadata()
        assert xmp["dc:title"] == metadata.title and xmp["xmp:CreatorTool"] == "chartclerk"
        assert xmp["pdf:Keywords"] == keywords

    refiled = PdfMetadata(metadata.title, "discharge_summary", "18842-5", "4567", "scan.pdf", (1, 2))
    new_digest = update_pdf_metadata(out, refiled)
    assert new_digest == hashlib.sha256(out.read_bytes()).hexdigest() != digest
    assert "MRN 4567" in read_pdf_metadata(out)["Keywords"]
    assert "hemoglobin" in pdftotext(out).lower()


def test_pdf_errors_are_archive_errors(tmp_path: Path) -> None:
    image = np.full((50, 40), 255, np.uint8)
    with pytest.raises(ArchiveError):
        make_page_pdf(image, 300.0, b"not a pdf")
    with pytest.raises(ArchiveError):
        make_page_pdf(image.astype(np.float32), 300.0, b"")
    with pytest.raises(ArchiveError):
        make_page_pdf(image, 0, b"")
    with pytest.raises(ArchiveError):
        assemble_pdf([], tmp_path / "x.pdf", PdfMetadata("t", "other", None, None, "s.pdf", (1, 1)))


def test_head_is_known_without_alembic() -> None:
    from chartclerk.store.db import newest_migration_file

    assert newest_migration_file() == head_revision()


@pytest.mark.parametrize("command", [["list"], ["search", "chest pain"]])
def test_search_and_list_start_without_opencv_or_pikepdf(tmp_path: Path, command: list[str]) -> None:
    """`chartclerk search` and `list` must start fast: no OpenCV, numpy, pikepdf, scikit-learn or Alembic."""
    import subprocess
    import sys

    code = (
        f"import sys; sys.argv = ['chartclerk', *{command!r}]\n"
        "from chartclerk import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('cv2', 'numpy', 'pikepdf', 'sklearn', 'alembic') if m in sys.modules))\n"
    )
    (tmp_path / "config.yaml").write_text("workers: 1\n")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True)  # creates
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
