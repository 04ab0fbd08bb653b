"""Born-digital and mixed PDFs: a page's own text taken exactly, the page kept as it is (and
made inert); scans read as before; another program's OCR layer kept or read again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from fpdf import FPDF
from rapidfuzz import fuzz
from typer.testing import CliRunner

from chartclerk.cli import app
from chartclerk.ingest import PageTask, inspect_source, survey_pdf_page
from chartclerk.ingest.models import GrayImage
from chartclerk.ocr.tesseract import ocr_image
from chartclerk.page_worker import PageContext, PageOutcome, process_page
from chartclerk.pipeline import ingest_files
from chartclerk.settings import Settings
from chartclerk.store import Archive, PdfMetadata, assemble_pdf
from chartclerk.store import pdf as store_pdf
from chartclerk.tests.digitalpdfs import (
    Page,
    active_names_in,
    garble,
    make_hostile,
    scramble_mapping,
    turn_content,
    write_digital,
    write_layered,
)
from chartclerk.tests.scans import FakePatient, render_document, separator_sheet
from chartclerk.workers import SerialExecutor


def _lines(doc_type: str, patient: FakePatient | None, seed: int) -> tuple[str, ...]:
    return render_document(doc_type, patient, seed=seed, body_lines=18).lines[:40]


def _process(settings: Settings, path: Path, number: int = 1) -> PageOutcome:
    tmp = path.parent / "pages"
    tmp.mkdir(exist_ok=True)
    source = inspect_source(path, settings.ingest)
    outcome = process_page(PageTask(source, number), PageContext(settings.ingest, settings.ocr, tmp))
    assert outcome.error is None, outcome.error
    return outcome


def _words(text: str) -> list[str]:
    return text.split()


def _pdftotext(path: Path, page: int = 1) -> str:
    args = ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"]
    return subprocess.run(args, capture_output=True, check=True, text=True).stdout


@pytest.mark.parametrize("font", ["Helvetica", "DejaVu"])
def test_a_digital_page_keeps_its_own_text_and_page(tmp_path: Path, settings: Settings, font: str) -> None:
    lines = (*_lines("lab_report", None, 3), "Hemoglobin A1c 6.9 %")
    path = write_digital(tmp_path / "lab.pdf", [Page(lines, font=font)])
    outcome = _process(settings, path)
    assert outcome.text_source == "file" and outcome.ocr_confidence is None
    assert _words(outcome.text) == _words(" ".join(lines))  # exactly, not "Atc"
    assert outcome.rotation_degrees == 0 and outcome.skew_degrees == 0
    assert not [s for s, _ in outcome.times if s in ("rasterize", "ocr")]  # neither rendered nor read
    # the page itself, not a picture of it: fonts, no image, about the original's size
    assert outcome.pdf_page is not None
    with pikepdf.open(outcome.pdf_page) as kept:
        resources = kept.pages[0].resources
        assert "/Font" in resources and "/XObject" not in resources
    assert outcome.pdf_page.stat().st_size < 2 * path.stat().st_size
    # word boxes: fractions of the page, where the file draws the words
    first = outcome.words[0]
    assert first.text == lines[0].split()[0] and first.confidence is None
    assert abs(first.left - 72 / 612) < 0.005 and abs(first.top + first.height - 86 / 792) < 0.01
    assert all(0 <= w.left <= 1 and 0 <= w.top <= 1 and w.width > 0 for w in outcome.words)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_rotated_digital_page_turns_by_its_file(tmp_path: Path, settings: Settings, rotate: int) -> None:
    lines = _lines("referral", None, rotate)
    landscape = (792.0, 612.0) if rotate in (90, 270) else (612.0, 792.0)
    # written as a viewer shows it upright, then stored turned with /Rotate (a landscape print)
    path = turn_content(write_digital(tmp_path / "r.pdf", [Page(lines, size=landscape)]), rotate)
    outcome = _process(settings, path)
    assert outcome.text_source == "file" and outcome.rotation_degrees == rotate
    assert _words(outcome.text) == _words(" ".join(lines))
    first = outcome.words[0]  # fractions of the page as shown upright
    assert abs(first.left - 72 / landscape[0]) < 0.005
    assert abs(first.top + first.height - 86 / landscape[1]) < 0.01

    # the same page stored with /Rotate but drawn upright shows sideways: it is turned back
    sideways = turn_content(write_digital(tmp_path / "s.pdf", [Page(lines)]), rotate, upright=False)
    outcome = _process(settings, sideways)
    assert outcome.rotation_degrees == 0 and _words(outcome.text) == _words(" ".join(lines))
    assert outcome.pdf_page is not None
    with pikepdf.open(outcome.pdf_page) as kept:
        assert int(kept.pages[0].obj.get("/Rotate", 0)) == 0


def test_a_digital_page_s_skew_is_its_text_angle(tmp_path: Path, settings: Settings) -> None:
    lines = _lines("progress_note", None, 2)[:12]
    pdf = FPDF(unit="pt", format="letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10.5)
    with pdf.rotation(3, 306, 396):  # the whole text turned 3 degrees counter-clockwise
        for i, line in enumerate(lines):
            pdf.text(72, 86 + 14 * i, line)
    pdf.output(str(tmp_path / "tilted.pdf"))
    outcome = _process(settings, tmp_path / "tilted.pdf")
    assert outcome.text_source == "file" and outcome.rotation_degrees == 0
    assert abs(outcome.skew_degrees - 3.0) < 0.05
    assert _words(outcome.text) == _words(" ".join(lines))
    # the first word's box holds it where the page draws it (poppler's own layout analysis,
    # which reads tilted words whole, puts "Riverside" at 56.1-99.8 x 89.5-100.9 points)
    first = outcome.words[0]
    assert first.text == lines[0].split()[0]
    box = (
        first.left * 612,
        first.top * 792,
        (first.left + first.width) * 612,
        (first.top + first.height) * 792,
    )
    assert all(abs(got - want) < 2.5 for got, want in zip(box, (56.1, 89.5, 99.8, 100.9), strict=True)), box

    stamped = FPDF(unit="pt", format="letter")  # level text and a stamp at 45 degrees
    stamped.add_page()
    stamped.set_font("Helvetica", size=10.5)
    for i, line in enumerate(lines):
        stamped.text(72, 86 + 14 * i, line)
    with stamped.rotation(45, 400, 500):
        stamped.text(400, 500, "PAID IN FULL")
    stamped.output(str(tmp_path / "stamped.pdf"))
    assert survey_pdf_page(tmp_path / "stamped.pdf", 1).skew_degrees == 0


def test_survey_tells_scans_from_text(tmp_path: Path) -> None:
    doc = render_document("progress_note", None, seed=1, dpi=150)
    path = write_digital(
        tmp_path / "mixed.pdf",
        [
            Page(_lines("progress_note", None, 1)),
            Page(picture=doc.pages[0]),
            Page(("RECEIVED FAX 10:42 Page 2/5",), picture=doc.pages[0]),  # a header stamped on a scan
            Page(
                _lines("consult_note", None, 2), picture=doc.pages[0], picture_box=(450, 40, 100, 60)
            ),  # logo
        ],
    )
    kinds = [survey_pdf_page(path, n).kind for n in (1, 2, 3, 4)]
    assert kinds == ["text", "scan", "layer", "text"]


def test_text_over_a_page_sized_picture_is_kept_only_when_it_is_the_page_s_text(
    tmp_path: Path, settings: Settings
) -> None:
    scan = render_document("radiology_report", None, seed=4, dpi=150).pages[0]
    letterhead = np.full_like(scan, 255)
    letterhead[: scan.shape[0] // 8] = scan[: scan.shape[0] // 8]  # the scan's letterhead, nothing else
    letter = _lines("referral", None, 14)
    path = write_digital(
        tmp_path / "over.pdf",
        [Page(("RECEIVED FAX 10:42 Page 2/5",), picture=scan), Page(letter, picture=letterhead)],
    )
    assert [survey_pdf_page(path, n).kind for n in (1, 2)] == ["layer", "layer"]
    stamped, typed = _process(settings, path, 1), _process(settings, path, 2)
    assert stamped.text_source == "ocr" and len(stamped.text.split()) > 50  # the scan is read
    assert typed.text_source == "file" and _words(typed.text) == _words(" ".join(letter))


def test_survey_of_odd_drawings_never_raises(tmp_path: Path) -> None:
    """Operators with wrong operands, a form that draws itself, a text matrix of infinities:
    the survey answers (a scan, when in doubt) and never raises."""
    bodies = [
        b"BT /F1 Tf (x) Tj ET",  # Tf without a size
        b"BT (x) Tr 1 0 0 1 0 0 Tm (text) Tj ET",  # a string where a number belongs
        b"q 1 0 0 1 Tm /Loop Do Q",  # a form drawing itself
        b"BT /F1 12 Tf 1e308 0 0 1e308 1e308 0 Tm (huge) Tj ET",
        b"BT /F1 12 Tf [(a) (b) -5 (c)] TJ (d) ' 1 2 (e) \" ET",
    ]
    for i, body in enumerate(bodies):
        with pikepdf.new() as pdf:
            pdf.add_blank_page()
            page = pdf.pages[0]
            font = pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
            loop = pdf.make_stream(
                b"/Loop Do (t) Tj", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 9, 9]
            )
            loop.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Loop=loop))
            page.obj.Resources = pikepdf.Dictionary(
                Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Loop=loop)
            )
            page.obj.Contents = pdf.make_stream(body)
            pdf.save(tmp_path / f"odd{i}.pdf")
        survey = survey_pdf_page(tmp_path / f"odd{i}.pdf", 1)
        assert survey.kind in ("scan", "text", "layer")
    assert survey_pdf_page(tmp_path / "odd4.pdf", 1).chars == 5
    assert survey_pdf_page(tmp_path / "missing.pdf", 1).kind == "scan"


@pytest.mark.slow
def test_a_mixed_pdf_is_read_page_by_page_into_one_searchable_document(
    tmp_path: Path, settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    patient = roster[0]
    scan = render_document("discharge_summary", patient, seed=5, pages=2, body_lines=18)
    digital = _lines("discharge_summary", patient, 6)
    path = write_digital(
        tmp_path / "packet.pdf",
        [Page(digital), Page(picture=scan.pages[1]), Page(digital[10:], font="DejaVu")],
    )
    [outcome] = ingest_files([path], settings, archive, SerialExecutor())
    assert outcome.status == "archived", outcome.error
    [doc] = archive.list_documents()
    shown = archive.get_document(doc["id"], with_text=True)
    assert [p["text_source"] for p in shown["pages"]] == ["file", "ocr", "file"]
    assert _words(shown["pages"][0]["text"]) == _words(" ".join(digital))
    assert fuzz.ratio(shown["pages"][1]["text"], "\n".join(scan.lines[len(scan.lines) // 2 :])) > 50
    assert [len(archive.page_words(doc["id"], n)) > 20 for n in (1, 2, 3)] == [True, True, True]
    word = digital[-1].split()[-1].strip(".,")
    assert any(hit.page in (1, 3) for hit in archive.search(word))
    pdf = archive.pdf_path(doc["id"])
    with pikepdf.open(pdf) as joined:
        assert len(joined.pages) == 3
        assert "/Font" in joined.pages[0].resources and "/XObject" not in joined.pages[0].resources
    assert _words(_pdftotext(pdf, 1)) == _words(" ".join(digital))
    shown_text = CliRunner().invoke(app, ["--config", str(tmp_path / "config.yaml"), "show", str(doc["id"])])
    assert shown_text.exit_code == 0, shown_text.output
    headers = [line for line in shown_text.output.splitlines() if line.startswith("--- page")]
    assert ["from the file" in h for h in headers] == [True, False, True]
    assert "text by OCR" in headers[1]


def test_digital_pages_share_fonts_when_joined_in_parts(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = [
        Page((f"Page {n} of the letter", *_lines("referral", None, n)[:8]), font="DejaVu") for n in range(5)
    ]
    path = write_digital(tmp_path / "letter.pdf", pages)
    kept = [_process(settings, path, n).pdf_page for n in range(1, 6)]
    assert all(p is not None for p in kept)
    metadata = PdfMetadata("t", "referral", None, None, "letter.pdf", (1, 5))
    direct = tmp_path / "direct.pdf"
    assemble_pdf([p for p in kept if p], direct, metadata)
    monkeypatch.setattr(store_pdf, "JOIN_PART_PAGES", 2)
    parted = tmp_path / "parted.pdf"
    assemble_pdf([p for p in kept if p], parted, metadata)
    for joined in (direct, parted):
        assert [_pdftotext(joined, n).split()[:2] for n in range(1, 6)] == [
            ["Page", str(n)] for n in range(5)
        ]
        with pikepdf.open(joined) as pdf:
            fonts = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and "/Length1" in o]
            assert len(fonts) == 1  # one embedded DejaVu, not one per page


def test_a_hostile_pdf_keeps_nothing_active_in_the_archive(
    tmp_path: Path, settings: Settings, archive: Archive
) -> None:
    path = make_hostile(write_digital(tmp_path / "hostile.pdf", [Page(_lines("other", None, 4))]), "MRN 4455")
    assert {"/JS", "/Launch", "/EmbeddedFiles", "/AcroForm", "/OpenAction", "/AA"} <= active_names_in(path)
    [outcome] = ingest_files([path], settings, archive, SerialExecutor())
    assert outcome.status == "archived", outcome.error
    [doc] = archive.list_documents()
    pdf = archive.pdf_path(doc["id"])
    assert active_names_in(pdf) == set()
    assert "MRN 4455" in _pdftotext(pdf)  # the filled-in field still shows, drawn into the page
    assert archive.get_document(doc["id"], with_text=True)["pages"][0]["text_source"] == "file"
    original = next(p for p in (settings.archive / "originals").rglob("*") if p.is_file())
    assert original.read_bytes() == path.read_bytes()  # the original, byte for byte


def test_a_digital_page_with_a_separator_code_is_a_separator(tmp_path: Path, settings: Settings) -> None:
    code = separator_sheet("PATCHT", "qr", dpi=150)[300:1200, 300:1000]
    path = write_digital(
        tmp_path / "sep.pdf",
        [
            Page(
                ("Separator sheet", "Scan the next document after this page"),
                picture=code,
                picture_box=(200, 200, 240, 310),
            ),
            Page(
                _lines("lab_report", None, 1), picture=code[:200, :200], picture_box=(450, 40, 60, 60)
            ),  # a logo
        ],
    )
    assert _process(settings, path, 1).separator
    assert not _process(settings, path, 2).separator


@pytest.mark.slow
def test_a_page_whose_text_does_not_decode_is_read_by_ocr(tmp_path: Path, settings: Settings) -> None:
    lines = _lines("consult_note", None, 9)
    path = scramble_mapping(write_digital(tmp_path / "scrambled.pdf", [Page(lines)]))
    assert survey_pdf_page(path, 1).kind == "text"
    outcome = _process(settings, path)
    assert outcome.text_source == "ocr"
    assert fuzz.ratio(" ".join(outcome.text.split()), " ".join(lines)) > 95


def test_digital_text_ocr_setting_reads_every_page_as_a_scan(tmp_path: Path, settings: Settings) -> None:
    path = write_digital(tmp_path / "lab.pdf", [Page(_lines("lab_report", None, 8))])
    ocr_everything = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"digital_text": "ocr"})}
    )
    assert _process(ocr_everything, path).text_source == "ocr"


LayerWords = list[tuple[str, float, float, float, float]]
Scanned = tuple[GrayImage, LayerWords, tuple[str, ...]]


@pytest.fixture(scope="module")
def scanned_words() -> Scanned:
    doc = render_document("history_physical", None, seed=11, body_lines=20)
    read = ocr_image(doc.pages[0], 300, Settings().ocr)
    return doc.pages[0], [(w.text, w.left, w.top, w.width, w.height) for w in read.words], doc.lines


def test_a_good_invisible_ocr_layer_is_kept(
    tmp_path: Path, settings: Settings, scanned_words: Scanned
) -> None:
    picture, words, _ = scanned_words
    path = write_layered(tmp_path / "good.pdf", picture, words)
    assert survey_pdf_page(path, 1).kind == "layer"
    outcome = _process(settings, path)
    assert outcome.text_source == "file"
    assert sorted(_words(outcome.text)) == sorted(w[0] for w in words)  # the layer, in poppler's order
    assert not [s for s, _ in outcome.times if s == "ocr"]


def test_a_bad_invisible_ocr_layer_is_read_again(
    tmp_path: Path, settings: Settings, scanned_words: Scanned
) -> None:
    picture, words, lines = scanned_words
    path = write_layered(tmp_path / "bad.pdf", picture, garble(words, seed=3))
    outcome = _process(settings, path)
    assert outcome.text_source == "ocr"
    assert fuzz.ratio(" ".join(outcome.text.split()), " ".join(lines)) > 95


def test_text_hidden_under_a_scan_is_not_taken(
    tmp_path: Path, settings: Settings, scanned_words: Scanned
) -> None:
    picture, words, lines = scanned_words
    other = render_document("operative_report", None, seed=12, body_lines=20).lines
    fake = [(text, *w[1:]) for text, w in zip(" ".join(other).split(), words, strict=False)]
    path = write_layered(tmp_path / "hidden.pdf", picture, fake, hidden_under=True)
    survey = survey_pdf_page(path, 1)
    assert survey.chars > 0 and survey.visible_chars == 0 and survey.kind == "layer"
    outcome = _process(settings, path)
    assert outcome.text_source == "ocr"
    assert fuzz.ratio(" ".join(outcome.text.split()), " ".join(lines)) > 95
