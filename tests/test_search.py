"""Search: scope tokens kept in sync, exact filters, bounded ranking of common terms, migration 0004.

The archive of each test runs on SQLite (FTS5) and on PostgreSQL (tsvector, GIN); tests of
FTS5's own machinery are marked ``@sqlite_only``.

Every test builds its own small archive of synthetic pages (no OCR); the common-term path
is exercised by lowering ``search.COUNT_CAP`` so that any term counts as common."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import inspect, text

from chartclerk.classify.models import Patient
from chartclerk.settings import Settings
from chartclerk.store import Archive, DocumentRecord, PageRecord, SourceRecord, make_page_pdf, search_pg
from chartclerk.store import search as search_module
from chartclerk.store.db import alembic_config
from chartclerk.store.search import _phrase_counts, scope_token
from chartclerk.tests.services import postgres_only, sqlite_only

PATIENTS = [
    Patient(mrn="000123", last="Smith", first="Anna", dob=dt.date(1960, 2, 1), sex="F"),
    Patient(mrn="4567", last="Smyth", first="Bob", dob=dt.date(1971, 5, 9), sex="M"),
    Patient(mrn="A-89/0", last="Núñez", first="Carla", dob=dt.date(1960, 2, 1), sex="F"),
]
PATHS = ("selective", "common")  # FTS5's bm25() over all matches / BM25 over the newest WINDOW


@pytest.fixture
def archive(settings: Settings, database_url: str | None) -> Iterator[Archive]:
    with Archive.open(settings.model_copy(update={"database": database_url})) as opened:
        opened.import_patients(PATIENTS)
        yield opened


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "common":
        monkeypatch.setattr(search_module, "COUNT_CAP", 1)  # every term counts as common
    return str(request.param)


@pytest.fixture(scope="module")
def page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "blank.pdf"
    path.write_bytes(make_page_pdf(np.full((110, 85), 255, np.uint8), 10.0, b""))
    return path


def add_document(
    archive: Archive,
    folder: Path,
    page_pdf: Path,
    texts: list[str],
    *,
    mrn: str | None,
    doc_type: str = "lab_report",
) -> int:
    """Archive one document (its own source file) with these page texts; returns its id."""
    n = len(list(folder.glob("scan-*.pdf")))
    source_path = folder / f"scan-{n}.pdf"
    data = b"%PDF-1.4 synthetic scan " + str(n).encode() * 100
    source_path.write_bytes(data)
    source = SourceRecord(
        source_path, source_path.name, hashlib.sha256(data).hexdigest(), len(data), len(texts)
    )
    archive.store_original(source)
    pages = tuple(
        PageRecord(
            number=i + 1,
            source_page=i + 1,
            skew_degrees=0.0,
            rotation_degrees=0,
            ocr_confidence=90.0,
            text=t,
            pdf_page=page_pdf,
        )
        for i, t in enumerate(texts)
    )
    doc = DocumentRecord(
        source=source,
        source_pages=(1, len(texts)),
        doc_type=doc_type,
        loinc=None,
        type_confidence=0.9,
        patient_mrn=mrn,
        patient_confidence=0.95 if mrn else None,
        status="filed" if mrn else "review",
        review_reason=None if mrn else "no identifiers",
        match_reason="test",
        candidates=(),
        pages=pages,
    )
    doc_id = archive.archive_document(doc).id
    archive.complete_source(source.sha256)
    return doc_id


def found(archive: Archive, query: str, **filters: str) -> list[tuple[int, int]]:
    return [(h.document_id, h.page) for h in archive.search(query, limit=50, **filters)]


def index_ok(archive: Archive) -> bool:
    with archive.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            stale = "SELECT count(*) FROM pages WHERE tsv IS DISTINCT FROM to_tsvector('chartclerk', text)"
            # pages.scope (migration 0012) equal to its document's patient and type
            unscoped = (
                "SELECT count(*) FROM pages AS p JOIN documents AS d ON d.id = p.document_id"
                " WHERE p.scope IS DISTINCT FROM chartclerk_scope(d.patient_mrn, d.doc_type)"
            )
            return conn.exec_driver_sql(stale).scalar() == 0 and conn.exec_driver_sql(unscoped).scalar() == 0
        conn.exec_driver_sql("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)")
    return True


# -- scope ----------------------------------------------------------------------------------------


@sqlite_only
def test_scope_tokens_match_the_migration_sql(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    doc = add_document(archive, tmp_path, page_pdf, ["x"], mrn="A-89/0", doc_type="progress_note")
    with archive.engine.connect() as conn:
        scope = conn.execute(text("SELECT scope FROM pages_scoped WHERE id = 1")).scalar()
    assert scope == f"{scope_token('patient', 'A-89/0')} {scope_token('type', 'progress_note')}"
    review = add_document(archive, tmp_path, page_pdf, ["y"], mrn=None)
    with archive.engine.connect() as conn:
        scope = conn.execute(
            text(
                "SELECT scope FROM pages_scoped AS s JOIN pages AS p ON p.id = s.id WHERE p.document_id = :d"
            ),
            {"d": review},
        ).scalar()
    assert scope == scope_token("type", "lab_report")  # no patient, no patient token
    assert doc != review


def test_filters_are_exact(archive: Archive, tmp_path: Path, page_pdf: Path, path: str) -> None:
    smith = add_document(archive, tmp_path, page_pdf, ["chest pain noted", "chest clear"], mrn="000123")
    bob = add_document(
        archive, tmp_path, page_pdf, ["chest pain again"], mrn="4567", doc_type="progress_note"
    )
    carla = add_document(archive, tmp_path, page_pdf, ["chest x ray"], mrn="A-89/0", doc_type="lab_report")
    review = add_document(archive, tmp_path, page_pdf, ["chest pain in review"], mrn=None)
    assert sorted(found(archive, "chest")) == [(smith, 1), (smith, 2), (bob, 1), (carla, 1), (review, 1)]
    assert sorted(found(archive, "chest", patient="123")) == [(smith, 1), (smith, 2)]
    assert sorted(found(archive, "chest", patient="000123")) == [(smith, 1), (smith, 2)]
    assert found(archive, "chest", patient="4567") == [(bob, 1)]
    assert found(archive, "chest", patient="A-89/0") == [(carla, 1)]
    assert found(archive, "chest", patient="890") == []  # not in the roster
    assert found(archive, "chest", doc_type="progress_note") == [(bob, 1)]
    assert sorted(found(archive, "chest", doc_type="lab_report")) == [
        (smith, 1), (smith, 2), (carla, 1), (review, 1)
    ]  # fmt: skip
    assert found(archive, "chest", doc_type="lab") == []  # whole types only
    assert found(archive, "chest", doc_type="lab_report", patient="4567") == []
    assert sorted(found(archive, '"chest pain"', doc_type="lab_report")) == [(smith, 1), (review, 1)]
    # Scope tokens are not words of the page: searching for one finds nothing.
    assert found(archive, scope_token("patient", "000123")) == []


def test_scope_follows_refiling(archive: Archive, tmp_path: Path, page_pdf: Path, path: str) -> None:
    doc = add_document(archive, tmp_path, page_pdf, ["hemoglobin low", "hemoglobin repeat"], mrn=None)
    other = add_document(archive, tmp_path, page_pdf, ["hemoglobin fine"], mrn="4567")
    assert found(archive, "hemoglobin", patient="000123") == []
    archive.file_document(doc, mrn="000123", doc_type=None, loinc=None, user="clerk1")
    assert found(archive, "hemoglobin", patient="000123") == [(doc, 1), (doc, 2)]
    archive.file_document(doc, mrn="4567", doc_type="discharge_summary", loinc=None, user="clerk1")
    assert found(archive, "hemoglobin", patient="000123") == []
    assert sorted(found(archive, "hemoglobin", patient="4567")) == [(doc, 1), (doc, 2), (other, 1)]
    assert found(archive, "hemoglobin", doc_type="discharge_summary") == [(doc, 1), (doc, 2)]
    assert found(archive, "hemoglobin", doc_type="lab_report") == [(other, 1)]
    assert index_ok(archive) and archive.verify().ok


def test_deleting_a_document_removes_its_pages_from_the_index(
    archive: Archive, tmp_path: Path, page_pdf: Path
) -> None:
    gone = add_document(archive, tmp_path, page_pdf, ["sodium high", "sodium low"], mrn="000123")
    kept = add_document(archive, tmp_path, page_pdf, ["sodium normal"], mrn="000123")
    with archive.engine.begin() as conn:
        conn.execute(text("DELETE FROM documents WHERE id = :d"), {"d": gone})  # pages cascade
        conn.execute(text("UPDATE pages SET text = 'potassium normal' WHERE document_id = :d"), {"d": kept})
    assert found(archive, "sodium") == [] and found(archive, "potassium") == [(kept, 1)]
    assert index_ok(archive)


# -- ranking --------------------------------------------------------------------------------------


def test_common_terms_rank_the_newest_window(
    archive: Archive, tmp_path: Path, page_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "COUNT_CAP", 1)
    monkeypatch.setattr(search_module, "WINDOW", 3)
    texts = ["routine visit " + "fever " * k + "and more words here" for k in (5, 1, 1, 2, 1, 3)]
    texts.insert(3, "routine visit without the other word")
    doc = add_document(archive, tmp_path, page_pdf, texts, mrn="000123")
    # Pages 1-7 hold "routine"; pages with "fever" too: 1, 2, 3, 5, 6, 7 (newest: 7, 6, 5).
    hits = archive.search("fever routine", limit=3)
    assert [(h.document_id, h.page) for h in hits] == [(doc, 7), (doc, 5), (doc, 6)]  # by frequency
    assert hits[0].score > hits[1].score > hits[2].score
    assert all("[fever]" in h.snippet and "[routine]" in h.snippet for h in hits)
    assert [h.page for h in archive.search("fever routine", limit=2)] == [7, 5]
    # Over all matches (a selective query), page 1 with five "fever"s comes first.
    monkeypatch.setattr(search_module, "COUNT_CAP", 100)
    assert [h.page for h in archive.search("fever routine", limit=3)] == [1, 7, 5]


def test_phrases_rank_the_newest_window(
    archive: Archive, tmp_path: Path, page_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "WINDOW", 2)
    texts = ["heart failure " * k + "noted" for k in (3, 1, 1)] + ["failure of the heart", "heart failure"]
    doc = add_document(archive, tmp_path, page_pdf, texts, mrn="000123")
    # "heart failure" is on pages 1, 2, 3 and 5: a rare phrase, still only the newest 2 ranked.
    hits = archive.search('"heart failure"', limit=2)
    assert [(h.document_id, h.page) for h in hits] == [(doc, 5), (doc, 3)]  # shorter page first
    assert all("[heart failure]" in h.snippet for h in hits)
    assert [h.page for h in archive.search('"heart failure"', limit=2, patient="123")] == [5, 3]  # filtered
    for cap in (2, 3, 4, 5):  # counted from the window on, exact or estimated
        monkeypatch.setattr(search_module, "COUNT_CAP", cap)
        assert {h.page for h in archive.search('"heart failure"', limit=1)} <= {3, 5}
    assert [h.page for h in archive.search('"heart failure"', limit=4)] == [1, 5, 2, 3]  # limit > WINDOW


@sqlite_only
def test_common_path_scores_equal_fts5_bm25(
    archive: Archive, tmp_path: Path, page_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["routine " * k + "filler words of varying length " * (4 - k) for k in (1, 2, 3)]
    add_document(archive, tmp_path, page_pdf, texts, mrn="000123")
    add_document(archive, tmp_path, page_pdf, ["routine check"], mrn="4567")
    with archive.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.number + 10 * p.document_id, -bm25(pages_fts) FROM pages_fts"
                " JOIN pages AS p ON p.id = pages_fts.rowid WHERE pages_fts MATCH 'routine'"
            )
        )
        want = {int(row[0]): float(row[1]) for row in rows}
    selective = {h.page + 10 * h.document_id: h.score for h in archive.search("routine")}
    # Every page holds the term: its estimated count is exact (all pages), as bm25() counts it.
    monkeypatch.setattr(search_module, "COUNT_CAP", 1)
    common = {h.page + 10 * h.document_id: h.score for h in archive.search("routine")}
    assert selective.keys() == common.keys() == want.keys()
    for key, score in want.items():
        assert selective[key] == pytest.approx(score) and common[key] == pytest.approx(score)


def test_phrase_counts_credit_each_term() -> None:
    marked = "a \x02Hemoglobins\x03 b \x02heart  failure\x03 \x02HEMOGLOBIN\x03 \x02Ñúñez\x03"
    terms = [["hemoglobin"], ["heart", "failure"], ["nunez"]]
    assert _phrase_counts(marked, terms) == [2, 1, 1]
    assert _phrase_counts(marked, [["hemoglobin"]]) == [4]  # one term: every mark is it


# -- migration ------------------------------------------------------------------------------------


def test_migration_from_0003_keeps_search_working(settings: Settings, tmp_path: Path, page_pdf: Path) -> None:
    with Archive.open(settings) as archive:
        archive.import_patients(PATIENTS)
        lab = add_document(archive, tmp_path, page_pdf, ["albumin low", "albumin repeat"], mrn="000123")
        note = add_document(
            archive, tmp_path, page_pdf, ["albumin fine"], mrn="4567", doc_type="progress_note"
        )
        url = archive.engine.url.render_as_string(hide_password=False)
        with archive.engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
    db = settings.archive / "chartclerk.db"
    with sqlite3.connect(db) as raw:  # the 0001 index over pages.text, complete and consistent
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
        assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'pages_scoped'").fetchone() == (
            0,
        )
        assert len(raw.execute("SELECT rowid FROM pages_fts WHERE pages_fts MATCH 'albumin'").fetchall()) == 3
        raw.execute("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)")
        raw.execute(  # written by chartclerk at 0003: its triggers index the page
            "INSERT INTO pages (document_id, number, source_page, skew_degrees, rotation_degrees,"
            " ocr_confidence, text) VALUES (?, 2, 2, 0, 0, 90, 'albumin later')",
            (note,),
        )
    with Archive.open(settings) as archive:  # upgrades to 0004 and rebuilds the index
        assert sorted(found(archive, "albumin")) == [(lab, 1), (lab, 2), (note, 1), (note, 2)]
        assert found(archive, "albumin", patient="4567") == [(note, 1), (note, 2)]
        assert found(archive, "albumin", doc_type="lab_report") == [(lab, 1), (lab, 2)]
        assert index_ok(archive) and archive.verify().ok


@postgres_only
def test_postgres_upgrade_from_0011_scopes_existing_pages(
    archive: Archive, tmp_path: Path, page_pdf: Path
) -> None:
    lab = add_document(archive, tmp_path, page_pdf, ["heart failure noted", "albumin low"], mrn="000123")
    note = add_document(
        archive, tmp_path, page_pdf, ["heart failure again"], mrn="4567", doc_type="progress_note"
    )
    url = archive.engine.url.render_as_string(hide_password=False)
    for revision, column in (("0011", False), ("head", True)):
        with archive.engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            if column:
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            names = {c["name"] for c in inspect(conn).get_columns("pages")}
            assert ("scope" in names) == column
    assert index_ok(archive)  # the pages archived before 0012 got their scope
    assert found(archive, '"heart failure"', doc_type="progress_note") == [(note, 1)]
    assert found(archive, '"heart failure"', patient="123") == [(lab, 1)]
    assert sorted(found(archive, '"heart failure"')) == [(lab, 1), (note, 1)]


# -- PostgreSQL's key index (migration 0012) ------------------------------------------------------


@postgres_only
def test_postgres_key_index_holds_adjacent_pairs_and_scope(
    archive: Archive, tmp_path: Path, page_pdf: Path
) -> None:
    doc = add_document(
        archive, tmp_path, page_pdf, ["heart failure noted", "failure of the heart"], mrn="4567"
    )
    with archive.engine.connect() as conn:
        pair = str(conn.exec_driver_sql("SELECT chartclerk_pair_key('heart', 'failur')").scalar())
        keys = conn.execute(
            text(
                "SELECT number, chartclerk_keys(tsv, scope) FROM pages WHERE document_id = :d ORDER BY number"
            ),
            {"d": doc},
        ).all()
        query, scope = conn.execute(
            text("SELECT chartclerk_key_query(:terms, :mrns, :t), chartclerk_key_query(NULL, :mrns, :t)"),
            {"terms": ["Heart Failure", "noted"], "mrns": ["4567", "004567"], "t": "lab_report"},
        ).one()
        for number, vector in keys:  # pairs only where the words are adjacent, in that order
            assert (f"'{pair}'" in vector) == (number == 1)
            assert "'heart'" in vector and f"'@p{hashlib.md5(b'4567').hexdigest()}'" in vector
        assert query.split(" & ")[:4] == ["'heart'", "'failur'", f"'{pair}'", "'note'"]
        assert scope == (
            f"('@p{hashlib.md5(b'4567').hexdigest()}' | '@p{hashlib.md5(b'004567').hexdigest()}')"
            f" & '@t{hashlib.md5(b'lab_report').hexdigest()}'"
        )
        plan = conn.execute(
            text(f"EXPLAIN SELECT p.id FROM pages AS p WHERE {search_pg._KEYS}"), {"keys": query}
        ).all()
        assert any("ix_pages_keys" in row[0] for row in plan)  # one probe of the key index
    # Keys are not words: a user's query never reaches them.
    assert found(archive, pair) == [] and found(archive, f"@p{hashlib.md5(b'4567').hexdigest()}") == []
    assert found(archive, '"heart failure"') == [(doc, 1)] and found(archive, '"failure heart"') == []


@postgres_only
@pytest.mark.parametrize("walk", [True, False])
def test_postgres_newest_window_same_by_walk_and_bitmap(
    archive: Archive, tmp_path: Path, page_pdf: Path, monkeypatch: pytest.MonkeyPatch, walk: bool
) -> None:
    """The newest window's two plans (primary key walk, bitmap AND of the key index and a
    page-id range) give the same pages, phrases and filters included."""
    monkeypatch.setattr(search_module, "COUNT_CAP", 1)
    monkeypatch.setattr(search_module, "WINDOW", 3)
    monkeypatch.setattr(search_pg, "_WALK_COST", 0 if walk else 10**12)
    texts = [f"visit {i} " + ("heart failure" if i % 2 else "failure heart") for i in range(12)]

    def newest(archive: Archive, query: str, **filters: str) -> list[tuple[int, int]]:
        return sorted((h.document_id, h.page) for h in archive.search(query, limit=3, **filters))

    lab = add_document(archive, tmp_path, page_pdf, texts, mrn="000123")
    note = add_document(archive, tmp_path, page_pdf, texts[:5], mrn="4567", doc_type="progress_note")
    assert newest(archive, '"heart failure"') == [(lab, 12), (note, 2), (note, 4)]
    assert newest(archive, '"heart failure"', doc_type="lab_report") == [(lab, 8), (lab, 10), (lab, 12)]
    assert newest(archive, "heart visit", patient="4567") == [(note, 3), (note, 4), (note, 5)]
    assert newest(archive, '"failure heart" 4', patient="123") == [(lab, 5)]


# -- identifiers through OCR look-alikes ----------------------------------------------------------


def test_identifier_found_through_look_alikes(
    archive: Archive, tmp_path: Path, page_pdf: Path, path: str
) -> None:
    misread = add_document(archive, tmp_path, page_pdf, ["Accession No: SO4B1I27 received"], mrn="000123")
    exact = add_document(archive, tmp_path, page_pdf, ["Accession No: 50481127 received"], mrn="4567")
    other = add_document(archive, tmp_path, page_pdf, ["Accession No: 50481128 received"], mrn="4567")
    hits = archive.search("50481127", limit=5)
    assert [h.document_id for h in hits] == [exact, misread]  # exact first, never the neighbour code
    assert hits[0].score > hits[1].score
    assert "[SO4B1I27]" in hits[1].snippet  # the text as it was read
    assert other in [h.document_id for h in archive.search("50481128", limit=5)]
    assert [h.document_id for h in archive.search("50481127", patient="000123")] == [misread]
    assert [h.document_id for h in archive.search("accession 5O481127", doc_type="lab_report")][:2] == [
        exact,
        misread,
    ]


def test_words_stay_words(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    add_document(archive, tmp_path, page_pdf, ["Claim 501O22 SOLO flight"], mrn="000123")
    assert found(archive, "5010") == []  # too short to be an identifier: exact only
    assert found(archive, "SOLO") == [(1, 1)]
    add_document(archive, tmp_path, page_pdf, ["claim Solomon paid solomon"], mrn="4567")
    assert found(archive, "5010M0N") == []  # a word on the page is never folded
    assert found(archive, "S01O22") == [(1, 1)]
    capitals = add_document(archive, tmp_path, page_pdf, ["Member SBOVASWT"], mrn="4567")
    assert found(archive, "SB0VASWT") == [(capitals, 1)]  # every digit read as a letter


def test_one_edit_more_for_long_identifiers(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    dropped = add_document(
        archive, tmp_path, page_pdf, ["Member ID XK7O4219 card"], mrn="000123"
    )  # 5 dropped
    doubled = add_document(
        archive, tmp_path, page_pdf, ["Member ID XK7O542219 card"], mrn="4567"
    )  # 2 doubled
    short = add_document(archive, tmp_path, page_pdf, ["Order AB134 AB1234X"], mrn="4567")
    assert {h.document_id for h in archive.search("XK7054219", limit=5)} == {dropped, doubled}
    assert archive.search("AB12345", limit=5) == []  # 7 characters: look-alikes only, no edit
    assert short
    changed = add_document(archive, tmp_path, page_pdf, ["Ref HEMFUDZ2S4 / 2026"], mrn="4567")  # 6 read as E
    assert [h.document_id for h in archive.search("H6MFUDZ2S4")] == [changed]
    assert "[HEMFUDZ2S4]" in archive.search("H6MFUDZ2S4")[0].snippet
    # A neighbouring number is offered only while the code itself is not on file.
    near = add_document(archive, tmp_path, page_pdf, ["Ref H6MFUDZ2S9"], mrn="4567")
    assert [h.document_id for h in archive.search("H6MFUDZ2S9")] == [near]


def test_identifier_index_follows_page_changes(archive: Archive, tmp_path: Path, page_pdf: Path) -> None:
    doc = add_document(archive, tmp_path, page_pdf, ["Policy P0LICY-88I2O4"], mrn="000123")
    assert found(archive, "P0L1CY881204") == [(doc, 1)]
    with archive.engine.begin() as conn:  # an ORM-less edit keeps the old idents: re-index from text
        conn.execute(
            text("UPDATE pages SET text = 'Policy none', idents = '' WHERE document_id = :d"), {"d": doc}
        )
    assert found(archive, "P0L1CY881204") == []
    assert index_ok(archive)
