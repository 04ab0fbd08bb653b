"""Chart deficiencies on generated forms: signature areas signed (several pens, light pencil),
unsigned, stamped, with stray marks; undated signatures; verbal orders; page numbering; loose
pages; the chart rules; the work list, show and resolve/dismiss through the archive."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chartclerk.classify.models import Patient
from chartclerk.deficiency import (
    Box,
    PageInput,
    PageWord,
    PatientInfo,
    find_document_deficiencies,
    find_signature_areas,
)
from chartclerk.deficiency.chart import ChartDocument, find_chart_deficiencies
from chartclerk.settings import DeficiencySettings, Settings
from chartclerk.store import Archive
from chartclerk.tests.deficiencyforms import (
    archive_pages,
    signature_form,
    stacked_form,
    text_page,
    verbal_order_form,
)

SIGNED = ("signed", "pencil", "thick")
NOT_SIGNED = ("unsigned", "stamp", "frameless stamp", "check", "staple", "fax")


def kinds(findings: tuple[object, ...]) -> list[str]:
    return [f.kind for f in findings]  # type: ignore[attr-defined]


@pytest.mark.parametrize("below", [False, True], ids=["line-right", "label-under-line"])
@pytest.mark.parametrize("mark", SIGNED)
def test_signed_areas_are_not_flagged(mark: str, below: bool) -> None:
    for seed in range(4):
        page = signature_form(random.Random(seed), mark, below=below)
        areas = find_signature_areas(page)
        assert len(areas) == 1
        assert areas[0].signed, areas[0].seen()
        assert find_document_deficiencies([page], None) == ()


@pytest.mark.parametrize("below", [False, True], ids=["line-right", "label-under-line"])
@pytest.mark.parametrize("mark", NOT_SIGNED)
def test_unsigned_stamped_and_stray_marks_are_missing_signatures(mark: str, below: bool) -> None:
    for seed in range(3):
        page = signature_form(random.Random(seed), mark, below=below)
        found = find_document_deficiencies([page], None)
        assert kinds(found) == ["signature_missing"], [f.detail for f in found]
        f = found[0]
        assert f.page == 1 and f.region is not None and "Signature" in f.words
        # the region is where the signature goes: the middle third of the page, height of a line or two
        assert 0.3 < f.region.top < 0.42 and f.region.height < 0.08
        assert "handwriting-like strokes" in f.detail  # it says what it saw
        if (mark == "stamp" and not below) or mark == "frameless stamp":
            assert "stamp" in f.detail and f.sure


@pytest.mark.parametrize("tall_mark", [False, True], ids=["clean", "tall-mark-between"])
def test_two_stacked_unsigned_areas_are_both_missing(tall_mark: bool) -> None:
    """Each of two stacked areas is found on its own line, even when a mark OCR read as one
    tall word lies between the two label lines (it once chained them into one line: one
    label was taken as part of the other, and one of the two areas was lost)."""
    page = stacked_form(random.Random(5), tall_mark=tall_mark)
    areas = find_signature_areas(page)
    assert [a.label for a in areas] == ["Patient/guardian signature:", "Witness signature:"]
    assert areas[0].region.bottom < areas[1].region.top
    missing = [f for f in find_document_deficiencies([page], None) if f.kind == "signature_missing"]
    assert [f.words for f in missing] == ["Patient/guardian signature:", "Witness signature:"]
    assert all(f.sure for f in missing)


@pytest.mark.parametrize("erase", [True, False], ids=["lines-erased", "control-lines-kept"])
def test_fax_streak_through_a_label_still_makes_its_area(
    erase: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fax streak running through the printed "Patient/guardian signature:" label: the OCR
    stage whitens long thin lines in the copy tesseract reads, so the label is read and the
    area judged (on the page image, streak and all). The control reads the page with its lines
    kept: tesseract loses the label and the area, as it did before."""
    import chartclerk.ocr.reading as reading
    from chartclerk.ingest import PageImage
    from chartclerk.ocr import normalize_resolution, ocr_page, straighten_page
    from chartclerk.settings import OcrSettings
    from chartclerk.tests.deficiencyforms import H

    if not erase:
        monkeypatch.setattr(reading, "erase_thin_lines", lambda image, dpi: image)
    form = stacked_form(random.Random(5))
    assert form.image is not None
    label = next(w for w in form.words if w.text.startswith("Patient/"))
    scan = form.image.copy()
    y = round((label.box.top + 0.55 * label.box.height) * H)
    scan[y : y + 2, :] = 40  # through the middle of the label's letters, across the page
    settings = OcrSettings()
    read = ocr_page(straighten_page(normalize_resolution(PageImage(1, scan, 150.0), settings)), settings)
    height, width = read.page.image.shape
    words = tuple(
        PageWord(
            w.text, Box(w.left / width, w.top / height, w.width / width, w.height / height), w.confidence
        )
        for w in read.ocr.words
    )
    page = PageInput(1, words, read.ocr.text, "ocr", read.page.image, float(read.page.dpi))
    found = [(f.kind, f.words) for f in find_document_deficiencies([page], None)]
    if erase:
        assert found == [
            ("signature_missing", "Patient/guardian signature:"),
            ("signature_missing", "Witness signature:"),
        ]
    else:
        assert ("signature_missing", "Patient/guardian signature:") not in found


def test_signed_without_date_is_undated_and_says_what_it_saw() -> None:
    for below in (False, True):
        page = signature_form(random.Random(5), "signed", dated=False, below=below)
        found = find_document_deficiencies([page], None)
        assert kinds(found) == ["signature_undated"]
        assert "no date" in found[0].detail and "signed:" in found[0].detail
        dated = signature_form(random.Random(5), "signed", dated=True, below=below)
        assert find_document_deficiencies([dated], None) == ()


def test_label_read_split_and_handwriting_read_as_a_stop_word() -> None:
    """OCR reads "signature" as "signatiire" (u as ii): still a label. It reads a signature's
    scribble as a word that is also a field label ("id", "name"), with low confidence: that is
    not the end of the field, so the signature is still seen."""
    split = signature_form(random.Random(6), "unsigned", label="Witness signatiire:")
    assert [(f.kind, f.words) for f in find_document_deficiencies([split], None)] == [
        ("signature_missing", "Witness signatiire:")
    ]
    page = signature_form(random.Random(7), "signed")
    label = next(w for w in page.words if w.text == "Signature:")
    scribble_word = PageWord("id", Box(label.box.right + 0.02, label.box.top - 0.01, 0.03, 0.03), 53.0)
    read = replace(page, words=(*page.words, scribble_word))
    [area] = find_signature_areas(read)
    assert area.signed and area.region.right > 0.5
    assert find_document_deficiencies([read], None) == ()
    for text, confidence in (("Name:", 95.0), ("_—Name:.-", 47.0)):  # printed; glued to a line's remains
        stop = replace(
            scribble_word,
            text=text,
            confidence=confidence,
            box=replace(scribble_word.box, top=label.box.top, height=label.box.height),
        )
        [cut] = find_signature_areas(
            replace(page, words=(*page.words, stop))
        )  # a printed label ends the field
        assert cut.region.right < label.box.right + 0.03, text


def test_typed_date_counts_and_electronic_signature_on_a_digital_page() -> None:
    page = text_page(1, ["Progress note", "Electronically signed by: R. Patel MD 11/03/2026 10:42"])
    areas = find_signature_areas(page)
    assert len(areas) == 1 and areas[0].signed and "Patel" in areas[0].typed
    assert find_document_deficiencies([page], None) == ()  # dated on its line
    page = text_page(1, ["Progress note", "Signature:_____ /s/ R. Patel MD   Date:______ 11/03/2026"])
    areas = find_signature_areas(page)
    assert len(areas) == 1 and areas[0].signed and areas[0].typed
    assert find_document_deficiencies([page], None) == ()


def test_signature_on_file_is_a_statement_but_its_stamp_in_an_area_is_no_signature() -> None:
    assert find_signature_areas(text_page(1, ["Consent", "Patient signature on file."])) == []
    page = signature_form(random.Random(2), "frameless stamp")
    stamped = signature_form(random.Random(2), "unsigned")
    assert kinds(find_document_deficiencies([page], None)) == kinds(
        find_document_deficiencies([stamped], None)
    )


def test_digital_page_without_signature_is_unsure_not_silent() -> None:
    page = text_page(1, ["Progress note", "Physician signature:", "Date:"])
    digital = type(page)(page.number, page.words, page.text, "file", None, page.dpi)
    found = find_document_deficiencies([digital], None)
    assert kinds(found) == ["signature_missing"] and not found[0].sure


def test_verbal_order_without_signature() -> None:
    unsigned = find_document_deficiencies([verbal_order_form(random.Random(1), signed=False)], None)
    assert kinds(unsigned) == ["verbal_order_unauthenticated"]
    assert "V.O." in unsigned[0].detail and "V.O." in unsigned[0].words
    assert find_document_deficiencies([verbal_order_form(random.Random(1), signed=True)], None) == ()
    nothing_near = text_page(1, ["Orders", "T.O. Dr. Kim: hold heparin tonight"])
    assert kinds(find_document_deficiencies([nothing_near], None)) == ["verbal_order_unauthenticated"]


def test_page_numbering_gaps_and_short_counts() -> None:
    who = PatientInfo("00012345", "Doe", "Jane")
    pages = [
        text_page(i, ["DOE, JANE MRN 00012345", "text", f"Page {n} of 4"])
        for i, n in ((1, 1), (2, 2), (3, 4))
    ]
    found = find_document_deficiencies(pages, who)
    assert kinds(found) == ["pages_missing"]
    assert "3" in found[0].detail and found[0].page == 2 and found[0].words == "Page 2 of 4"
    short = [text_page(i, ["DOE, JANE", f"Pg. {i}/3"]) for i in (1, 2)]
    assert "page 3" in find_document_deficiencies(short, who)[0].detail
    whole = [text_page(i, ["DOE, JANE", f"page {i} of 2"]) for i in (1, 2)]
    assert find_document_deficiencies(whole, who) == ()
    # OCR misreads: "Page l of 3", and a footer not read at all on the page that is there
    smudged = [
        text_page(1, ["DOE, JANE", "PAGE L OF 3"]),
        text_page(2, ["DOE, JANE"]),
        text_page(3, ["DOE, JANE", "Page 3 of 3"]),
    ]
    assert find_document_deficiencies(smudged, who) == ()
    assert kinds(find_document_deficiencies([smudged[0], smudged[2]], who)) == ["pages_missing"]
    # small footers as OCR reads them: "of" as "0f" glued to the numbers, stray dots and dashes
    misread = ["p-lof5", "p..2. of 5", "p.4o0f5", "‘Page '5 of 5"]
    gap = [text_page(i, ["DOE, JANE", footer]) for i, footer in enumerate(misread, start=1)]
    found = find_document_deficiencies(gap, who)
    assert kinds(found) == ["pages_missing"] and "page 3 not" in found[0].detail
    assert "seen: 1-2, 4-5" in found[0].detail
    alone = find_document_deficiencies([text_page(1, ["DOE, JANE", "p. 1-of 3"])], who)
    assert kinds(alone) == ["pages_missing"] and "pages 2-3" in alone[0].detail
    assert find_document_deficiencies([text_page(1, ["Step 1 of 3: wash hands"])], who) == ()


def test_loose_page_without_patient_identifier() -> None:
    who = PatientInfo("00012345", "Lindqvist", "Maria")
    pages = [
        text_page(1, ["DISCHARGE SUMMARY", "Patient: LINDQVIST, MARIA  MRN 00012345"]),
        text_page(2, ["Hospital course was uneventful.", "Follow up in two weeks."]),
        text_page(3, ["MRN: 12345", "Medications reconciled."]),  # MRN without its leading zeros
        text_page(4, ["Lindqvlst M  continued"]),  # OCR slip in the name still names her
    ]
    found = find_document_deficiencies(pages, who)
    assert kinds(found) == ["identifier_missing"] and found[0].page == 2
    assert find_document_deficiencies(pages[:1], who) == ()  # one page: nothing to misfile
    unknown = find_document_deficiencies(pages[:2], None)
    assert [f.page for f in unknown] == [2]


def test_chart_rules_with_cms_defaults() -> None:
    rules = DeficiencySettings()
    today = dt.date(2026, 11, 28)
    ds = ChartDocument(
        1, "discharge_summary", "Admission Date: 10/01/2026\nDischarge Date: 10/05/2026", today
    )
    late_hp = ChartDocument(2, "history_physical", "Date of admission: 10/03/2026", today)
    found = find_chart_deficiencies([ds, late_hp], rules, today)
    assert kinds(found) == ["document_missing"] and found[0].document_id == 1 and "history" in found[0].detail
    on_time = ChartDocument(2, "history_physical", "Date of admission: 10/01/2026", today)
    assert find_chart_deficiencies([ds, on_time], rules, today) == ()
    lonely_hp = ChartDocument(3, "history_physical", "Admission date: 08/01/2026", today)
    found = find_chart_deficiencies([lonely_hp], rules, today)
    assert kinds(found) == ["document_missing"] and "discharge summary" in found[0].detail
    recent_hp = ChartDocument(3, "history_physical", "Admission date: 11/20/2026", today)
    assert find_chart_deficiencies([recent_hp], rules, today) == ()  # not due yet
    op = ChartDocument(4, "operative_report", "Date of procedure: 09/10/2026\nProcedure: appendectomy", today)
    assert "without a consent" in find_chart_deficiencies([op], rules, today)[0].detail
    late = ChartDocument(5, "consent_form", "I consent to appendectomy.\nDate: 09/12/2026", today)
    found = find_chart_deficiencies([op, late], rules, today)
    assert kinds(found) == ["consent_after_procedure"] and found[0].document_id == 5
    ok = ChartDocument(6, "consent_form", "I consent to appendectomy.\nDate signed: 09/09/2026", today)
    assert find_chart_deficiencies([op, ok], rules, today) == ()
    off = rules.model_copy(update={"require_consent_for_operation": False})
    assert find_chart_deficiencies([op], off, today) == ()


def _on(settings: Settings, database_url: str | None) -> Settings:
    """``settings`` on the test's database (SQLite in the archive folder, or a fresh PostgreSQL
    database), the config file too, for the CLI."""
    if database_url is not None:
        config = settings.archive.parent / "config.yaml"
        config.write_text(config.read_text().replace("database: null", f"database: '{database_url}'"))
    return settings.model_copy(update={"database": database_url})


def test_work_list_show_resolve_and_dismiss(
    settings: Settings, database_url: str | None, tmp_path: Path
) -> None:
    from chartclerk.cli import app
    from chartclerk.deficiency.run import scan_archive
    from chartclerk.store.audit import read_entries
    from chartclerk.store.deficiencies import close_finding, document_findings, list_findings

    settings = _on(settings, database_url)
    with Archive.open(settings) as archive:
        archive.import_patients([Patient("00012345", "Doe", "Jane", dt.date(1954, 3, 7), "F")])
        unsigned = archive_pages(
            archive, tmp_path / "scans", [signature_form(random.Random(1), "unsigned")], mrn="00012345"
        )
        signed = archive_pages(
            archive, tmp_path / "scans", [signature_form(random.Random(2), "signed")], mrn="00012345"
        )
        report = scan_archive(archive, settings)
        assert report.documents == 2 and report.pages == 2
        items = list_findings(archive)
        assert [(i["document_id"], i["kind"], i["page"]) for i in items] == [
            (unsigned, "signature_missing", 1)
        ]
        assert len(items[0]["region"]) == 4
        assert document_findings(archive, signed) == []
        assert scan_archive(archive, settings).documents == 0  # nothing new: nothing read again
        with pytest.raises(Exception, match="why"):
            close_finding(archive, items[0]["id"], "dismissed", "clara", "  ")
    runner = CliRunner()
    config = ["--config", str(tmp_path / "config.yaml"), "--user", "clara"]
    out = runner.invoke(app, [*config, "deficiencies", "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert [i["kind"] for i in listed] == ["signature_missing"]
    shown = json.loads(runner.invoke(app, [*config, "show", str(unsigned), "--json"]).output)
    assert shown["deficiencies"][0]["id"] == listed[0]["id"]
    assert (
        runner.invoke(app, [*config, "deficiencies", "--kind", "pages_missing", "--json"]).output.strip()
        == "[]"
    )
    assert (
        json.loads(runner.invoke(app, [*config, "deficiencies", "--older-than", "3", "--json"]).output) == []
    )
    out = runner.invoke(
        app, [*config, "deficiencies", "resolve", str(listed[0]["id"]), "--reason", "signed 11/30"]
    )
    assert out.exit_code == 0, out.output
    closed = json.loads(runner.invoke(app, [*config, "deficiencies", "--status", "all", "--json"]).output)
    assert closed[0]["status"] == "resolved" and closed[0]["closed_by"] == "clara"
    assert closed[0]["reason"] == "signed 11/30" and closed[0]["closed_at"]
    again = runner.invoke(app, [*config, "deficiencies", "dismiss", str(listed[0]["id"]), "--reason", "x"])
    assert again.exit_code != 0 and "already resolved" in str(again.exception)
    with Archive.open(settings) as archive:
        actions = [(e.user, e.action) for e in read_entries(archive.engine)]
    assert ("clara", "deficiency resolved") in actions and ("clara", "deficiencies") in actions


def test_findings_kept_replaced_filtered_and_closed(
    settings: Settings, database_url: str | None, tmp_path: Path
) -> None:
    """The store on both databases: a finding found again keeps its row (and its age), one no
    longer found goes unless a clerk closed it; the work list's filters; chart findings
    replaced per patient; which documents the analysis must read again."""
    from chartclerk.store.deficiencies import (
        FindingRecord,
        close_finding,
        document_findings,
        documents_to_scan,
        list_findings,
        save_chart_findings,
        save_document_findings,
    )
    from chartclerk.store.tables import utcnow

    with Archive.open(_on(settings, database_url)) as archive:
        archive.import_patients(
            [
                Patient("00012345", "Doe", "Jane", dt.date(1954, 3, 7), "F"),
                Patient("00067890", "Roe", "Rick", dt.date(1961, 5, 2), "M"),
            ]
        )
        scans = tmp_path / "scans"
        jane = archive_pages(archive, scans, [signature_form(random.Random(1), "unsigned")], mrn="00012345")
        rick = archive_pages(archive, scans, [signature_form(random.Random(2), "signed")], mrn="00067890")

        def record(doc: int, kind: str, page: int = 1, left: float = 0.2) -> FindingRecord:
            return FindingRecord(
                doc, kind, f"{kind} on page {page}", page, [left, 0.3, 0.4, 0.05], "words", True
            )

        unsigned, gap, loose = (
            record(jane, "signature_missing"),
            record(jane, "pages_missing"),
            record(rick, "identifier_missing", 2),
        )
        shas = {d: archive.get_document(d)["pdf_sha256"] for d in (jane, rick)}
        assert {d for d, _ in documents_to_scan(archive, 1)} == {jane, rick}
        assert (
            save_document_findings(
                archive, [(jane, shas[jane], [unsigned, gap]), (rick, shas[rick], [loose])], 1
            )
            == 3
        )
        assert documents_to_scan(archive, 1) == []
        assert {d for d, _ in documents_to_scan(archive, 2)} == {jane, rick}  # a new analysis reads all again

        items = list_findings(archive)
        assert [(i["document_id"], i["kind"]) for i in items] == [
            (jane, "signature_missing"), (jane, "pages_missing"), (rick, "identifier_missing"),
        ]  # fmt: skip
        assert items[0]["region"] == [0.2, 0.3, 0.4, 0.05] and items[0]["patient_mrn"] == "00012345"
        assert [i["kind"] for i in list_findings(archive, patient="00067890")] == ["identifier_missing"]
        assert [i["document_id"] for i in list_findings(archive, kind="pages_missing")] == [jane]
        assert list_findings(archive, older_than_days=3) == []
        later = utcnow() + dt.timedelta(days=10)
        assert len(list_findings(archive, older_than_days=3, now=later)) == 3

        first = {i["kind"]: i for i in items}
        closed = close_finding(archive, first["signature_missing"]["id"], "resolved", "clara", "signed 11/30")
        assert closed["status"] == "resolved" and closed["closed_by"] == "clara" and closed["closed_at"]
        with pytest.raises(Exception, match="already resolved"):
            close_finding(archive, first["signature_missing"]["id"], "dismissed", "clara", "no")
        with pytest.raises(Exception, match="not found"):
            close_finding(archive, 999_999, "dismissed", "clara", "no")

        # found again, with one more: kept rows keep their ids and found_at; the closed one stays closed
        undated = record(jane, "signature_undated", left=0.5)
        save_document_findings(archive, [(jane, shas[jane], [unsigned, gap, undated])], 1)
        again = {i["kind"]: i for i in document_findings(archive, jane)}
        assert again["pages_missing"]["id"] == first["pages_missing"]["id"]
        assert again["pages_missing"]["found_at"] == first["pages_missing"]["found_at"]
        assert again["signature_missing"]["status"] == "resolved" and len(again) == 3
        # no longer found: open findings go, the clerk's closed one stays
        save_document_findings(archive, [(jane, shas[jane], [])], 1)
        assert [(i["kind"], i["status"]) for i in document_findings(archive, jane)] == [
            ("signature_missing", "resolved")
        ]

        chart = FindingRecord(jane, "document_missing", "no H&P", None, None, "", True)
        assert save_chart_findings(archive, "00012345", [chart]) == 1
        assert [i["kind"] for i in list_findings(archive, patient="00012345")] == ["document_missing"]
        save_chart_findings(archive, "00012345", [])
        assert list_findings(archive, patient="00012345") == []
        assert [i["kind"] for i in list_findings(archive, status="all", patient="00012345")] == [
            "signature_missing"
        ]
