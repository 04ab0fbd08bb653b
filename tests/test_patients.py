"""Patient identification: identifiers on noisy pages, cover sheets, look-alikes, twins, the
database roster at scale, the review work list, and batches split at separator and cover sheets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from chartclerk.classify.identifiers import extract_identifiers
from chartclerk.classify.matching import match_patient, near_dates
from chartclerk.classify.models import Identifiers, Patient, PatientMatch, PersonName
from chartclerk.classify.roster import MemoryRoster, normalize_name
from chartclerk.ingest import load_page, read_codes, read_cover, split_batch
from chartclerk.ingest.coversheet import UNREADABLE_COVER, cover_code, cover_sheet_for, render_cover_sheet
from chartclerk.settings import PatientSettings, Settings
from chartclerk.store import Archive, ArchiveRoster, DocumentRecord, PageRecord, SourceRecord, make_page_pdf
from chartclerk.store.pdf import write_image_pdf
from chartclerk.store.review import review_queue
from chartclerk.tests.scans import distort

SETTINGS = PatientSettings()
TODAY = dt.date(2024, 6, 1)

ANN = Patient("00012345", "Okafor", "Ann", dt.date(1971, 3, 18), "F")
DANIEL = Patient("00200001", "Reyes", "Daniel", dt.date(2001, 9, 23), "M")  # boy/girl twins
DANIELLE = Patient("00200002", "Reyes", "Danielle", dt.date(2001, 9, 23), "F")
LUIS = Patient("00300003", "Ortiz", "Luis", dt.date(1950, 6, 14), "M")
LUIS_TWIN = Patient("00300004", "Ortiz", "Mateo", dt.date(1950, 6, 14), "M")  # consecutive MRN
KIM = Patient("00400004", "Kim", "Grace", dt.date(1962, 4, 12), "F")
KIM_TOO = Patient("00499999", "Kim", "Grace", dt.date(1962, 4, 17), "F")  # DOB one OCR error away (2/7)
ROSA = Patient("00500005", "Silva", "Rosa", dt.date(1944, 3, 7), "F")
ROSA_TOO = Patient("00588888", "Silva", "Rosa", dt.date(1944, 7, 3), "F")  # day and month swapped
NOAH = Patient("04711911", "Lindqvist", "Noah", dt.date(1988, 11, 29), "M")
ROSTER = MemoryRoster([ANN, DANIEL, DANIELLE, LUIS, LUIS_TWIN, KIM, KIM_TOO, ROSA, ROSA_TOO, NOAH])


def match(ids: Identifiers, cover: str | None = None) -> PatientMatch:
    result = match_patient(ids, ROSTER, SETTINGS, cover_mrn=cover)
    assert not any(ch.isdigit() for ch in result.reason.replace("ambiguous: 2", "")), result.reason
    return result


def page(text: str) -> Identifiers:
    return extract_identifiers(text, today=TODAY)


# --- identifiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dob", ["03/18/1971", "1971-03-18", "Mar 18, 1971", "18-MAR-1971", "3/18/71", "March 18th, 1971"]
)
@pytest.mark.parametrize("name", ["OKAFOR, ANN M", "Ann M. Okafor", "Okafor, Ann", "ANN OKAFOR"])
def test_names_and_dobs_in_their_usual_forms(name: str, dob: str) -> None:
    ids = page(f"Patient: {name}   DOB: {dob}")
    assert ids.dobs == (ANN.dob,)
    assert [(n.last, n.first) for n in ids.names] == [("OKAFOR", "ANN")]


@pytest.mark.parametrize(
    "label", ["MRN", "MRN #", "Medical Record No.", "Med Rec #", "Chart #", "Account #", "Acct No"]
)
def test_mrn_labels_with_and_without_leading_zeros(label: str) -> None:
    assert page(f"{label} 00012345\nDOB 03/18/1971").mrns == ("00012345",)
    assert match(page(f"{label}: 12345\nName: Ann Okafor")).mrn == ANN.mrn


def test_an_account_number_beside_an_mrn_is_not_a_second_mrn() -> None:
    ids = page("MRN: 00012345   Account Number: 99887766\nPatient: OKAFOR, ANN   DOB: 03/18/1971")
    assert ids.mrns == ("00012345",)
    assert page("take into account 100 mg").mrns == ()


def test_sex_is_read_for_the_patient_only() -> None:
    assert page("Name: Ann Okafor   Sex: F   MRN 12345").sexes == ("F",)
    assert page("GENDER: Male").sexes == ("M",)
    assert page("SEX: FMR#: 12345").sexes == ("F",)
    assert page("Sex: M / F   (circle one)").sexes == ()
    assert page("Emergency Contact\nName: Bob Okafor\nSex: M").sexes == ()


def test_ocr_damaged_labels_and_digits_are_still_read() -> None:
    ids = page("Paticnt: OKAFOR, ANN\nDote of Birth: Mar 1B, 197l\nMRN: OOl2345")
    assert ids == Identifiers(("0012345",), (PersonName("OKAFOR", "ANN"),), (ANN.dob,), fixed_dobs=(ANN.dob,))
    assert match(ids).mrn == ANN.mrn


def test_the_banner_of_every_page_counts() -> None:
    pages = "Referral\nRe: Ann Okafor\n\fOKAFOR, ANN   MRN 00012345   Page 2 of 2\nDOB: 03/18/1971"
    result = match(page(pages))
    assert result.mrn == ANN.mrn and result.reason == "mrn+name+dob agree"


# --- matching: MRN ----------------------------------------------------------------------------------


def test_sex_on_the_page_contradicting_the_roster_goes_to_review() -> None:
    result = match(page("Patient: OKAFOR, ANN   MRN 12345   Sex: M"))
    assert not result.filed and result.reason == "sex contradicts mrn"


def test_a_twin_with_a_neighbouring_mrn_needs_the_name() -> None:
    alone = match(Identifiers(mrns=(LUIS.mrn,), dobs=(LUIS.dob,)))
    assert not alone.filed and alone.reason == "twin in roster"
    named = match(Identifiers(mrns=(LUIS.mrn,), names=(PersonName("ORTIZ", "LUIS"),), dobs=(LUIS.dob,)))
    assert named.mrn == LUIS.mrn
    far = MemoryRoster([LUIS, dataclasses.replace(LUIS_TWIN, mrn="07777777")])
    assert match_patient(Identifiers(mrns=(LUIS.mrn,), dobs=(LUIS.dob,)), far, SETTINGS).mrn == LUIS.mrn


def test_a_dob_misread_by_ocr_does_not_block_an_agreeing_mrn_and_name() -> None:
    misread = dt.date(1971, 8, 18)  # 03 read as 08
    result = match(Identifiers(mrns=(ANN.mrn,), names=(PersonName("OKAFOR", "ANN"),), dobs=(misread,)))
    assert result.mrn == ANN.mrn and result.reason == "mrn+name agree, dob misread"
    assert not match(Identifiers(mrns=(ANN.mrn,), dobs=(misread,))).filed  # the DOB alone: no
    other = match(
        Identifiers(mrns=(ANN.mrn,), names=(PersonName("OKAFOR", "ANN"),), dobs=(dt.date(1971, 5, 2),))
    )
    assert other.reason == "dob contradicts mrn"


def test_an_mrn_misread_by_ocr_files_by_name_and_dob_an_outside_mrn_does_not() -> None:
    misread = Identifiers(mrns=("04711971",), names=(PersonName("LINDQVIST", "NOAH"),), dobs=(NOAH.dob,))
    filed = match(misread)  # ...911 read as ...971
    assert filed.mrn == NOAH.mrn and filed.reason == "name+dob agree, mrn misread"
    assert not match(dataclasses.replace(misread, mrns=("04711977",))).filed  # two digits off
    outside = match(dataclasses.replace(misread, mrns=("88-55021",)))
    assert not outside.filed and outside.reason == "mrn not in roster"
    assert outside.candidates[0][0] == NOAH.mrn


def test_an_mrn_misread_alone_files_to_the_one_patient_the_page_corroborates() -> None:
    label = match(page("MRN 00012845   DOB: 03/18/1971"))  # 3 read as 8, no name on the label
    assert label.mrn == ANN.mrn and label.reason == "mrn+dob agree, mrn misread"
    assert label.score is not None and label.score < 0.95
    assert not match(page("MRN 00012845   DOB: 03/18/1972")).filed  # the DOB is someone else's
    assert not match(page("MRN 00012845\nPatient: SMITH, JOHN")).filed  # so is the name
    assert not match(page("MRN 00012845")).filed  # nothing to corroborate it


def test_two_mrns_on_a_page_are_one_when_the_other_is_a_misreading() -> None:
    ids = Identifiers(mrns=(NOAH.mrn, "04711971"), names=(PersonName("LINDQVIST", "NOAH"),), dobs=(NOAH.dob,))
    assert match(ids).mrn == NOAH.mrn
    both_real = Identifiers(mrns=(ANN.mrn, NOAH.mrn), dobs=(ANN.dob,))
    assert match(both_real).reason == "conflicting MRNs"


# --- matching: name + DOB ---------------------------------------------------------------------------


def test_boy_girl_twins_are_told_apart_only_by_the_sex_on_the_page() -> None:
    without = match(page("Re: Daniel Reyes\nDOB: 09/23/2001"))
    assert not without.filed and without.reason.startswith("ambiguous")
    assert {m for m, _ in without.candidates} >= {DANIEL.mrn, DANIELLE.mrn}
    assert match(page("Re: Daniel Reyes\nDOB: 09/23/2001\nSex: M")).mrn == DANIEL.mrn
    assert match(page("Re: Danielle Reyes\nDOB: 09/23/2001  Gender: Female")).mrn == DANIELLE.mrn


def test_a_dob_written_with_a_month_name_cannot_be_a_day_month_swap() -> None:
    swappable = match(page("Re: Rosa Silva\nDOB: 03/07/1944"))
    assert not swappable.filed and swappable.reason == "look-alike in roster"
    for written in ("March 7, 1944", "1944-03-07", "07-MAR-1944"):
        assert match(page(f"Re: Rosa Silva\nDOB: {written}")).mrn == ROSA.mrn, written
    assert match(page("Re: Rosa Silva\nDOB: July 3, 1944")).mrn == ROSA_TOO.mrn


def test_a_look_alike_one_ocr_error_away_blocks_filing_by_name_and_dob() -> None:
    for patient in (KIM, KIM_TOO, ROSA, ROSA_TOO):
        ids = Identifiers(names=(PersonName(normalize_name(patient.last), normalize_name(patient.first)),),
                          dobs=(patient.dob,))  # fmt: skip
        result = match(ids)
        assert not result.filed and result.reason == "look-alike in roster", patient
        assert result.candidates[0][0] == patient.mrn
    assert match(Identifiers(mrns=(KIM.mrn,), dobs=(KIM.dob,))).mrn == KIM.mrn  # the MRN settles it


def test_near_dates_are_one_likely_error_away() -> None:
    found = near_dates(dt.date(1962, 4, 12))
    assert dt.date(1962, 4, 17) in found and dt.date(1962, 12, 4) in found  # 2 read as 7, swapped
    assert dt.date(1961, 4, 12) in found and dt.date(1862, 4, 12) in found  # a year, a century
    assert dt.date(1962, 4, 15) not in found and len(found) < 25  # 2 and 5 are not confused


# --- matching: cover sheets -------------------------------------------------------------------------


def test_a_cover_sheet_files_a_document_without_identifiers() -> None:
    result = match(Identifiers(), cover=ANN.mrn)
    assert result.mrn == ANN.mrn and result.reason == "cover sheet"
    agreeing = match(page("Name: Ann Okafor\nDOB: 03/18/1971"), cover="12345")
    assert agreeing.mrn == ANN.mrn and agreeing.reason == "cover sheet+page agree"
    assert agreeing.score is not None and result.score is not None and agreeing.score > result.score


@pytest.mark.parametrize(
    "text",
    [
        "MRN: 04711911",  # another patient's MRN
        "Name: Ann Okafor   DOB: 01/01/1999",  # the DOB of someone else
        "Patient: LINDQVIST, NOAH",  # someone else's name
        "Sex: M",
    ],
)
def test_anything_on_the_page_against_the_cover_sheet_sends_it_to_review(text: str) -> None:
    result = match(page(text), cover=ANN.mrn)
    assert not result.filed and result.reason == "contradicts cover sheet"
    assert ANN.mrn in {m for m, _ in result.candidates}


def test_the_patients_own_mrn_misread_does_not_contradict_the_cover_sheet() -> None:
    assert match(page("MRN: 00012845"), cover=ANN.mrn).mrn == ANN.mrn  # 3 read as 8: no one's MRN


def test_a_cover_sheet_of_a_patient_not_in_the_roster_files_nothing() -> None:
    assert match(Identifiers(), cover="99999999").reason == "cover sheet mrn not in roster"
    assert match(page("MRN 12345  DOB 03/18/1971"), cover=UNREADABLE_COVER).reason == "unreadable cover sheet"
    strict = match_patient(Identifiers(), ROSTER, PatientSettings(min_match_score=0.97), cover_mrn=ANN.mrn)
    assert not strict.filed and strict.reason == "cover sheet below threshold"


def test_cover_sheet_codes() -> None:
    assert cover_code(" 00012345 ") == "MRN:00012345"
    assert read_cover(("PATCHT",)) is None and read_cover(()) is None
    assert read_cover(("mrn: 00012345", "MRN:12345")) == "00012345"  # one patient, twice
    assert read_cover(("MRN:12345", "MRN:54321")) == UNREADABLE_COVER


@dataclasses.dataclass(frozen=True)
class Sheet:
    number: int
    separator: bool = False
    cover_mrn: str | None = None


def test_split_batch_at_separator_and_cover_sheets() -> None:
    pages = [Sheet(1), Sheet(2, True, "A"), Sheet(3), Sheet(4), Sheet(5, True), Sheet(6), Sheet(7, True, "B"),
             Sheet(8, True, "C"), Sheet(9), Sheet(10, True)]  # fmt: skip
    docs = split_batch(pages)
    assert [([p.number for p in d.pages], d.cover_mrn) for d in docs] == [
        ([1], None), ([3, 4], "A"), ([6], "A"), ([9], "C"),
    ]  # fmt: skip
    assert split_batch([Sheet(1, True), Sheet(2, True)]) == []


def test_a_printed_cover_sheet_is_read_back_from_a_turned_noisy_scan(
    tmp_path: Path, settings: Settings
) -> None:
    from chartclerk.ingest import inspect_source

    sheet = tmp_path / "sheet.pdf"
    write_image_pdf(render_cover_sheet(cover_sheet_for(ANN), dpi=150), 150, sheet, title="cover")
    scanned = load_page(inspect_source(sheet, settings.ingest), 1, settings.ingest).image
    for turns in (1, 2):
        scan = distort(scanned, skew_degrees=2.0, quarter_turns_ccw=turns, noise=0.01, blur=3, seed=turns)
        assert read_cover(read_codes(scan)) == ANN.mrn


# --- the database roster ----------------------------------------------------------------------------


def _random_roster(n: int, seed: int) -> list[Patient]:
    rng = random.Random(seed)
    lasts = ["Smith", "Smyth", "Schmidt", "Lee", "Li", "Nguyen", "O'Brien", "Obrien", "Kowalski", "Garcia"]
    firsts = ["John", "Jon", "Mary", "Maria", "Ann", "Anne", "Luis", "Lou"]
    base = dt.date(1960, 1, 1).toordinal()
    return [
        Patient(
            f"{i:07d}",
            rng.choice(lasts),
            rng.choice(firsts),
            dt.date.fromordinal(base + rng.randrange(400)),
            rng.choice("MF"),
        )  # fmt: skip
        for i in range(1, n + 1)
    ]


def test_the_database_roster_blocks_and_matches_like_the_memory_one(archive: Archive) -> None:
    patients = _random_roster(400, seed=3)
    archive.import_patients(patients)
    memory = MemoryRoster(patients)
    rng = random.Random(5)
    for _ in range(60):
        p = rng.choice(patients)
        dob = p.dob + dt.timedelta(days=rng.choice((0, 0, 1, 30)))
        args = ((p.last, p.first), (dob,))
        near = near_dates(dob)
        assert {x.mrn for x in archive.roster.candidates(*args, near_dobs=near)} == {
            x.mrn for x in memory.candidates(*args, near_dobs=near)
        }
        ids = Identifiers(names=(PersonName(normalize_name(p.last), normalize_name(p.first)),), dobs=(dob,))
        assert match_patient(ids, archive.roster, SETTINGS) == match_patient(ids, memory, SETTINGS)
    with archive.engine.begin() as conn:  # the composite index recommended for the schema
        conn.execute(text("CREATE INDEX ix_test_last_key_dob ON patients (last_key, dob)"))
    indexed = ArchiveRoster(archive.engine)
    p = patients[0]
    near = near_dates(p.dob)
    assert indexed.candidates((p.last,), (p.dob,), near_dobs=near) == archive.roster.candidates(
        (p.last,), (p.dob,), near_dobs=near
    )


def test_the_database_roster_by_mrn_and_in_bulk(archive: Archive) -> None:
    archive.import_patients([ANN, NOAH, Patient("12345", "Other", "Eve", dt.date(1990, 1, 1))])
    roster = archive.roster
    assert roster.by_mrn("00012345") == ANN and roster.by_mrn("4711911") == NOAH
    assert roster.by_mrn("012345") is None  # "00012345" and "12345": which one?
    assert roster.by_mrn("") is None and roster.by_mrn("999") is None
    assert roster.patients([ANN.mrn, "nope"]) == {ANN.mrn: ANN}


# --- the review work list and the cover sheet command -----------------------------------------------

CLI = str(Path(sys.executable).parent / "chartclerk")


def _review_document(archive: Archive, tmp_path: Path, candidates: tuple[tuple[str, float], ...]) -> int:
    original = tmp_path / "letter.png"
    original.write_bytes(b"\x89PNG fake original")
    sha = hashlib.sha256(original.read_bytes()).hexdigest()
    source = SourceRecord(original, "letter.png", sha, original.stat().st_size, 1)
    archive.store_original(source)
    page_pdf = tmp_path / "page.pdf"
    page_pdf.write_bytes(make_page_pdf(np.full((110, 85), 255, np.uint8), 10.0, b""))
    doc = DocumentRecord(
        source=source, source_pages=(1, 1), doc_type="referral", loinc=None, type_confidence=0.9,
        patient_mrn=None, patient_confidence=candidates[0][1], status="review",
        review_reason="ambiguous: 2 candidates", match_reason="ambiguous: 2 candidates",
        candidates=candidates,
        pages=(PageRecord(1, 1, 0.0, 0, 90.0, "Re: Daniel Reyes DOB 09/23/2001", page_pdf),),
    )  # fmt: skip
    return archive.archive_document(doc).id


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "--config", str(config), *args], capture_output=True, text=True, timeout=120)


def test_review_lists_candidates_and_a_resolution_is_recorded(
    tmp_path: Path, settings: Settings, archive: Archive
) -> None:
    archive.import_patients([DANIEL, DANIELLE])
    doc_id = _review_document(archive, tmp_path, ((DANIEL.mrn, 0.98), (DANIELLE.mrn, 0.96), ("gone", 0.5)))
    [item] = review_queue(archive)
    assert [(c.mrn, c.patient) for c in item.candidates] == [(DANIEL.mrn, DANIEL), (DANIELLE.mrn, DANIELLE),
                                                              ("gone", None)]  # fmt: skip
    archive.close()
    config = tmp_path / "config.yaml"
    shown = _cli(config, "review", "--json")
    assert shown.returncode == 0, shown.stderr
    [listed] = json.loads(shown.stdout)
    assert listed["id"] == doc_id and listed["review_reason"] == "ambiguous: 2 candidates"
    assert listed["candidates"][0] == {"mrn": DANIEL.mrn, "score": 0.98, "last": "Reyes", "first": "Daniel",
                                       "dob": "2001-09-23", "sex": "M"}  # fmt: skip
    text_out = _cli(config, "review").stdout
    assert "REYES, Danielle" in text_out and "1 documents to review" in text_out

    filed = _cli(config, "--user", "clerk7", "file", str(doc_id), "--patient", "200002")
    assert filed.returncode == 0, filed.stderr
    assert json.loads(_cli(config, "review", "--json").stdout) == []
    with sqlite3.connect(settings.archive / "chartclerk.db") as db:
        rows = db.execute("SELECT user, field, old, new, at FROM corrections ORDER BY id").fetchall()
    changes = {field: (user, old, new) for user, field, old, new, _ in rows}
    assert changes["patient_mrn"] == ("clerk7", None, DANIELLE.mrn)
    assert changes["status"] == ("clerk7", "review", "filed")
    assert all(at for *_, at in rows)


def test_coversheet_command_prints_a_sheet_that_reads_back(
    tmp_path: Path, settings: Settings, archive: Archive
) -> None:
    from chartclerk.ingest import inspect_source

    archive.import_patients([ANN])
    archive.close()
    config = tmp_path / "config.yaml"
    out = tmp_path / "sheet.pdf"
    result = _cli(config, "coversheet", "12345", "--out", str(out))
    assert result.returncode == 0, result.stderr
    image = load_page(inspect_source(out, settings.ingest), 1, settings.ingest).image
    assert read_cover(read_codes(image)) == ANN.mrn
    text_layer = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert text_layer.strip() == ""  # an image only: the clear text is printed, not extractable
    missing = _cli(config, "coversheet", "99999", "--out", str(tmp_path / "x.pdf"))
    assert (
        missing.returncode == 8 and missing.stderr.startswith("error: ") and not (tmp_path / "x.pdf").exists()
    )


# --- a scanned batch through the pipeline -----------------------------------------------------------


@pytest.mark.slow
def test_a_batch_with_cover_and_separator_sheets_files_each_document(
    tmp_path: Path, settings: Settings, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chartclerk import assemble
    from chartclerk.classify import Classification
    from chartclerk.pipeline import ingest_files
    from chartclerk.tests.scans import FakePatient, render_document, separator_sheet, write_pdf
    from chartclerk.workers import SerialExecutor

    a, b = ANN, NOAH
    archive.import_patients([a, b])
    # Typing is not what this test is about: a confident type, so that the status is the patient's.
    monkeypatch.setattr(assemble, "classify_document", lambda text, s: Classification("other", None, 1.0))

    def fake(p: Patient) -> FakePatient:
        return FakePatient(p.mrn, p.last, p.first, p.dob, p.sex)

    def doc(patient: Patient | None, kind: str, seed: int, turns: int = 0, pages: int = 1) -> list[Any]:
        who = fake(patient) if patient else None
        rendered = render_document(kind, who, seed=seed, dpi=200, body_lines=6, pages=pages)
        return [
            distort(image, skew_degrees=1.5, quarter_turns_ccw=turns, noise=0.002, seed=seed)
            for image in rendered.pages
        ]

    def cover(p: Patient, turns: int) -> Any:
        sheet = render_cover_sheet(cover_sheet_for(p), dpi=200)
        return distort(sheet, skew_degrees=2.0, quarter_turns_ccw=turns, noise=0.005, seed=turns)

    pages = [
        cover(a, 1),
        *doc(a, "discharge_summary", 1, pages=2),
        separator_sheet("PATCHT", kind="code39", dpi=200),
        *doc(a, "lab_report", 3, turns=2),
        separator_sheet("PATCHT", kind="code128", dpi=200),
        *doc(None, "progress_note", 2),  # no identifiers: the cover sheet alone files it
        cover(b, 2),  # a new patient: no separator needed
        *doc(None, "consent_form", 4),
    ]
    write_pdf(tmp_path / "batch.pdf", pages, dpi=200)
    fast = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"dpi": 200}),
                                       "ocr": settings.ocr.model_copy(update={"min_dpi": 200})})  # fmt: skip
    [outcome] = ingest_files([tmp_path / "batch.pdf"], fast, archive, SerialExecutor())
    assert outcome.status == "archived", outcome.error
    docs = archive.list_documents()
    assert [d["source_pages"] for d in docs] == [[2, 3], [5, 5], [7, 7], [9, 9]]
    assert [d["patient_mrn"] for d in docs] == [a.mrn, a.mrn, a.mrn, b.mrn]
    assert [d["status"] for d in docs] == ["filed"] * 4
    assert [d["match_reason"] for d in docs][2:] == ["cover sheet", "cover sheet"]
