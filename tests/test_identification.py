"""Patient identification on paperwork as outside facilities word it (issue 17): every label a
form names its patient with, name and birth-date forms, the other people on the page, the roster's
other identifiers (member IDs, account numbers, previous MRNs, former names) and nicknames."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from chartclerk.classify.identifiers import extract_identifiers
from chartclerk.classify.matching import is_nickname, match_patient
from chartclerk.classify.models import Identifiers, Patient, PatientMatch, PersonName
from chartclerk.classify.roster import MemoryRoster, read_roster_csv
from chartclerk.settings import PatientSettings
from chartclerk.store import Archive

SETTINGS = PatientSettings()
TODAY = dt.date(2025, 3, 1)

NOAH = Patient("00310001", "Wilson", "Noah", dt.date(1969, 10, 12), "M")
ELLA = Patient("00310002", "Wilson", "Ella", dt.date(1971, 2, 27), "F")  # Noah's wife
MIA = Patient("00310003", "Wilson", "Mia", dt.date(2012, 6, 19), "F")  # their daughter
MARIA = Patient("00320001", "Garcia Lopez", "Maria", dt.date(1958, 4, 30), "F")
PIETER = Patient("00320002", "Van der Berg", "Pieter", dt.date(1947, 11, 3), "M")
SEAN = Patient("00320003", "O'Neil", "Sean", dt.date(1983, 8, 21), "M")
WILL = Patient("00320004", "Hart-Jones", "William", dt.date(1975, 1, 16), "M")
ALAN_LEE = Patient("00320005", "Lee", "Alan", dt.date(1962, 5, 25), "M")  # a physician's namesake
ELLA_TOO = Patient("00320006", "Wilson", "Ella", dt.date(1990, 9, 9), "F")  # the wife's namesake
NOAH_NEAR = Patient("00810001", "Brandt", "Karl", dt.date(1944, 3, 3), "M")  # MRN one misread digit away
ROSTER = MemoryRoster([NOAH, ELLA, MIA, MARIA, PIETER, SEAN, WILL, ALAN_LEE, ELLA_TOO, NOAH_NEAR])

# No digit, no roster name: reasons and read-outs are free of PHI.
_PHI = re.compile(r"\d{3}|WILSON|NOAH|ELLA|GARCIA|LEE", re.IGNORECASE)


def page(text: str) -> Identifiers:
    return extract_identifiers(text, today=TODAY)


def match(text: str, roster: MemoryRoster = ROSTER) -> PatientMatch:
    result = match_patient(page(text), roster, SETTINGS)
    assert not _PHI.search(result.explained.replace("ambiguous: 2", "")), result.explained
    return result


# --- every label a form names its patient with ------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        "Patient", "Pt", "Pt Name", "Patient Name", "Name", "Name of Patient", "Member", "Member Name",
        "Subscriber", "Insured", "Client", "Client Name", "Resident", "Re", "Regarding", "Child's Name",
        "Employee", "Claimant", "Dependent", "PATIENT'S NAME", "Insured's Name",
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "dob_label", ["DOB", "D.O.B.", "Date of Birth", "Birth Date", "Birthdate", "Born", "B/D", "Birth dt"]
)
def test_every_patient_label_and_birth_date_label_files(label: str, dob_label: str) -> None:
    result = match(f"Bayview Urgent Care\n{label}: Noah Wilson\n{dob_label}: 10/12/1969\nSeen for a sprain.")
    assert result.mrn == NOAH.mrn, result.explained


def test_an_insurance_card_naming_its_member_files() -> None:
    result = match("SUMMIT HEALTH PLAN\nMember: NOAH WILSON\nID: ZQ4411\nDOB: 1969-10-12\nRx Grp: 4411")
    assert result.mrn == NOAH.mrn and result.reason == "name+dob agree"


def test_a_letter_and_a_label_sticker_name_the_patient() -> None:
    letter = "Dear Dr. Amsel,\nThank you. I saw your patient Maria Garcia Lopez, born April 30, 1958, today."
    assert match(letter).mrn == MARIA.mrn
    scanned = "Dear Dr. Amsel,\nWe evaluated Mr. 5ean O'Nei1 (b0rn 8/21/83) at your request; he is well."
    assert match(scanned).mrn == SEAN.mrn
    assert page("The patient was seen today by Sean O'Neil").names == ()  # not a way of naming a patient
    assert page("Thank you for referring Provider Alan Lee").names == ()  # nor of naming a physician
    sticker = "VAN DER BERG, PIETER J\nMR# 00320002   DOB 11/03/47   M\nACCT 7700122"
    result = match(f"Specimen tube labels\n{sticker}\nCBC, BMP")
    assert result.mrn == PIETER.mrn and "label sticker" in result.read


@pytest.mark.parametrize(
    "name",
    [
        "VAN DER BERG, PIETER", "Pieter J. van der Berg", "PIETER VAN DER BERG", "Van der Berg, Pieter Jan",
        "Pieter Van Der Berg Sr.",
    ],
)  # fmt: skip
def test_two_part_surnames_and_middle_names(name: str) -> None:
    assert match(f"Pt: {name}   D.O.B.: 3 Nov 1947").mrn == PIETER.mrn


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("GARCIA LOPEZ, MARIA E", MARIA), ("Maria Elena Garcia Lopez", MARIA), ("Maria Garcia-Lopez", MARIA),
        ("O'NEIL, SEAN", SEAN), ("Sean P. O'Neil Jr.", SEAN), ("SEAN ONEIL III", SEAN),
        ("O'Neil Jr, Sean", SEAN), ("William Hart-Jones", WILL), ('William "Bill" Hart-Jones', WILL),
        ("HART JONES, WILLIAM", WILL),
    ],
)  # fmt: skip
def test_name_forms(name: str, patient: Patient) -> None:
    result = match(f"Client Name: {name}\nBirthdate: {patient.dob:%m/%d/%Y}")
    assert result.mrn == patient.mrn, result.explained


@pytest.mark.parametrize(
    "written", ["10/12/69", "12 Oct 1969", "Oct-12-1969", "October 12th, 1969", "1969/10/12", "l0/l2/l969"]
)
def test_birth_date_forms(written: str) -> None:
    assert page(f"Born: {written}").dobs == (NOAH.dob,)


def test_day_first_dates_only_where_unambiguous_or_the_roster_settles_it() -> None:
    assert page("DOB: 27/02/1971").dobs == (ELLA.dob,)  # 27 cannot be a month
    swapped = page("Patient: Maria Garcia Lopez   DOB: 30/04/1958\nMRN 320001")
    assert match_patient(swapped, ROSTER, SETTINGS).mrn == MARIA.mrn
    ambiguous = page("Patient: Pieter van der Berg   DOB: 03/11/1947")  # 3 November written day first
    result = match_patient(ambiguous, ROSTER, SETTINGS)
    assert result.candidates[0][0] == PIETER.mrn  # the roster settles it: day and month swapped


# --- the other people on the page -------------------------------------------------------------------


@pytest.mark.parametrize(
    "others",
    [
        "Guarantor: Ella Wilson   DOB: 02/27/1971",
        "Spouse: WILSON, ELLA   Spouse D.O.B. 02/27/1971",
        "Emergency contact: Ella Wilson (wife)  Date of Birth 02/27/1971",
        "NEXT OF KIN\nName: Ella Wilson\nBirth Date: 02/27/1971",
        "Responsible party: Ella Wilson, born 2/27/71",
        "Parent/Guardian: Ella Wilson   B/D 02-27-1971",
        "Referring physician: Alan Lee\nSigned by: Alan Lee, MD",
        "Witness: Ella Wilson   Interpreter: Alan Lee   Pharmacist: Alan Lee, RPh   Nurse: Ella Wilson, RN",
    ],
)
def test_other_people_never_file_the_document(others: str) -> None:
    for layout in (
        f"Patient: Mia Wilson   DOB: 06/19/2012\n{others}",
        f"{others}\nPatient: Mia Wilson\nDOB: 6/19/12",
    ):
        result = match(layout)
        assert result.mrn == MIA.mrn, (layout, result.explained)
        assert "set aside" in result.read


def test_someone_else_alone_on_the_page_files_nothing() -> None:
    for text in (
        "Guarantor: Ella Wilson   DOB: 02/27/1971",
        "Emergency Contact\nName: Ella Wilson\nDOB: 02/27/1971",
    ):
        result = match(text)
        assert not result.filed and result.reason == "no patient identifiers", result.explained


def test_a_dependents_card_files_to_the_dependent_not_the_subscriber() -> None:
    card = "Subscriber: NOAH WILSON\nSubscriber DOB: 10/12/1969\nDependent: MIA WILSON\nDOB: 06/19/2012"
    assert match(card).mrn == MIA.mrn
    own = "Subscriber: NOAH WILSON\nSubscriber ID: H900211\nDOB: 10/12/1969"
    assert match(own).mrn == NOAH.mrn  # the subscriber's own card: the subscriber is the patient


def test_a_guarantor_block_before_the_patients() -> None:
    text = (
        "GUARANTOR\nName: Wilson, Noah\nDOB: 10/12/1969\nEmployer: Port Authority\n\n"
        "PATIENT\nName: Wilson, Ella\nDOB: 02/27/1971"
    )
    ids = page(text)
    assert ids.names == (PersonName("WILSON", "ELLA"),) and ids.dobs == (ELLA.dob,)
    assert match(text).mrn == ELLA.mrn


def test_two_names_under_patient_labels_go_to_review_as_unclear() -> None:
    result = match("Patient: Noah Wilson\nRe: Sean O'Neil\nDOB: 10/12/1969")
    assert not result.filed and result.reason == "unclear which name is the patient's"


def test_the_review_reason_names_what_was_read_under_which_label() -> None:
    result = match("Member Name: Noah Wilson\nGuarantor: Ella Wilson   DOB: 02/27/1971")
    assert not result.filed and result.reason == "name only"
    assert result.explained == (
        "name only (read name [member name]; set aside as someone else's: name [guarantor], dob [guarantor])"
    )


# --- the roster's other identifiers -----------------------------------------------------------------

ROSTER_CSV = """mrn,last,first,dob,sex,Member ID,accounts,previous_mrns,former_names
00410001,Novak,Irena,1966-07-08,F,MX7710001;MX7710002,55100221,00099117,"Kral, Irena"
00410002,Novak,Jan,1966-07-08,M,MX7710003,,,
00410003,Brandt,Karl,1944-03-03,M,KB3300001,55100999,,
00410004,Adler,Ruth,1950-05-05,F,bad id!,,,
"""


@pytest.fixture
def rich_roster(tmp_path: Path) -> list[Patient]:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_CSV, encoding="utf-8")
    result = read_roster_csv(path)
    assert len(result.patients) == 3 and len(result.errors) == 1 and "bad member_ids" in result.errors[0]
    return list(result.patients)


def test_roster_columns_for_other_identifiers(rich_roster: list[Patient]) -> None:
    irena = rich_roster[0]
    assert irena.identifiers == (
        ("member_id", "MX7710001"), ("member_id", "MX7710002"), ("account", "55100221"),
        ("previous_mrn", "00099117"),
    )  # fmt: skip
    assert irena.aliases == (PersonName("KRAL", "IRENA"),)


def _check_other_identifiers(roster: MemoryRoster | object) -> None:
    def decide(text: str) -> PatientMatch:
        return match_patient(extract_identifiers(text, today=TODAY), roster, SETTINGS)  # type: ignore[arg-type]

    by_member = decide("Member ID: KB3300001\nDOB: 03/03/1944")
    assert by_member.mrn == "00410003" and by_member.reason == "member id+dob agree", by_member.reason
    named = decide("Member ID: MX7710002\nName: Irena Novak")
    assert named.mrn == "00410001" and named.reason == "member id+name agree", named.reason
    twin = decide("Member ID: MX7710003\nDOB: 07/08/1966")  # Jan's ID, but a DOB alone cannot tell twins
    assert not twin.filed and twin.reason == "twin in roster"
    assert decide("Member ID: MX7710003\nName: Jan Novak\nDOB: 07/08/1966").mrn == "00410002"
    against = decide("Member ID: MX7710003\nPatient: Irena Novak\nDOB: 07/08/1966")
    assert not against.filed and against.reason == "name contradicts member id"
    account = decide("Acct #: 55100999\nPatient: Karl Brandt")
    assert account.mrn == "00410003" and account.reason == "account+name agree"
    previous = decide("MRN: 99117\nPatient: Irena Novak")
    assert previous.mrn == "00410001" and previous.reason == "mrn+name agree, previous mrn"
    maiden = decide("Patient: Irena Kral\nDOB: 07/08/1966")
    assert maiden.mrn == "00410001" and maiden.reason == "name+dob agree"
    conflict = decide("MRN: 00410003\nMember ID: MX7710001\nPatient: Karl Brandt\nDOB: 03/03/1944")
    assert not conflict.filed and conflict.reason == "conflicting identifiers"
    conflict = decide("Member ID: MX7710001\nAcct #: 55100999\nDOB: 03/03/1944")
    assert not conflict.filed and conflict.reason == "conflicting identifiers"
    unknown = decide("Member ID: QQ0000001\nPatient: Karl Brandt\nDOB: 03/03/1944")  # not the roster's
    assert unknown.mrn == "00410003"


def test_other_identifiers_are_used_as_the_mrn_is(rich_roster: list[Patient]) -> None:
    _check_other_identifiers(MemoryRoster(rich_roster))


def test_other_identifiers_in_the_archive_database(archive: Archive, rich_roster: list[Patient]) -> None:
    archive.import_patients(rich_roster)
    _check_other_identifiers(archive.roster)
    assert archive.roster.by_mrn("00410001") == rich_roster[0]  # aliases and identifiers read back
    changed = dataclasses.replace(rich_roster[0], identifiers=(("member_id", "MX7719999"),), aliases=())
    archive.import_patients([changed])  # a patient listed again: its identifiers are replaced
    assert archive.roster.by_identifier("member_id", "MX7710001") == []
    assert archive.roster.by_identifier("member_id", "mx7719999") == [changed]
    bare = dataclasses.replace(changed, identifiers=(), first="Irenka")
    archive.import_patients([bare])  # listed without any: its identifiers are kept
    assert archive.roster.by_mrn(bare.mrn) == dataclasses.replace(bare, identifiers=changed.identifiers)


# --- nicknames --------------------------------------------------------------------------------------


def test_nicknames_come_from_a_curated_list() -> None:
    assert is_nickname("BILL", "WILLIAM") and is_nickname("LIZ", "ELIZABETH") and is_nickname("BOB", "ROBERT")
    assert is_nickname("BOB", "ROB")  # both Robert
    assert not is_nickname("WILLIAM", "WILLIAM") and not is_nickname("NOAH", "ELLA")


def test_a_nickname_is_a_weaker_name_agreement_never_alone() -> None:
    exact = match("Patient: William Hart-Jones   DOB: 01/16/1975")
    nick = match("Patient: Bill Hart-Jones   DOB: 01/16/1975")
    assert nick.mrn == WILL.mrn and nick.score is not None and exact.score is not None
    assert nick.score < exact.score
    assert not match("Patient: Bill Hart-Jones").filed  # a name alone never files
    assert not match("Patient: Bill Hart-Jones   DOB: 01/16/1976").filed  # nor beside a DOB one year off


def test_the_review_list_says_which_identifiers_were_read_from_which_label(archive: Archive) -> None:
    from chartclerk.ingest.models import SourceFile
    from chartclerk.page_worker import PageOutcome
    from chartclerk.pipeline import build_document
    from chartclerk.settings import Settings

    settings = Settings.model_validate({"archive": str(archive.root), "inbox": str(archive.root / "in")})
    text = "Client: Zed Quorn\nD.O.B.: 02/03/1999\nEmergency contact: Ava Quorn   DOB: 01/01/1970"
    source = SourceFile(Path("fax.pdf"), "fax.pdf", "cd" * 32, 10, "pdf", 1)
    record = build_document(source, [PageOutcome(1, text=text)], settings, archive)
    assert record.status == "review" and record.match_reason == "no roster match"
    assert record.review_reason is not None and record.review_reason.startswith(
        "no roster match (read name [client], dob [d.o.b.]; set aside as someone else's: "
        "name [emergency contact], dob [emergency contact])"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Mernber: NOAH WILSON\nD0B: 10/12/1969",
        "Cl1ent Narne: Noah Wilson\nBirth Datc: 10/12/1969",
        "Subscrlber: Noah Wilson   B/D: l0/12/1969",
        "Rcsident: Wilson, Noah\nBorn: Oct l2, 1969",
    ],
)
def test_labels_as_ocr_misreads_them(text: str) -> None:
    assert match(text).mrn == NOAH.mrn


def test_a_block_about_someone_else_reaches_down_to_its_end() -> None:
    block = "EMERGENCY CONTACT\nRelationship: wife\nPhone: (555) 010-2233\nAddress: 4 Elm Ct\nCity: Dover\n"
    text = f"Patient: Noah Wilson\n\n{block}Name: Ella Wilson\nDOB: 02/27/1971"
    ids = page(text)
    assert ids.names == (PersonName("WILSON", "NOAH"),) and ids.dobs == ()
    provider = (
        "REFERRING PROVIDER\nName: Alan Lee\nNPI: 1234567890\n\nPATIENT\nName: Noah Wilson\nDOB: 10/12/1969"
    )
    assert page(provider).names == (PersonName("WILSON", "NOAH"),)
    assert match(provider).mrn == NOAH.mrn
    street = "Harbor Clinic\n12 Oak Dr.\nName: Noah Wilson\nDOB: 10/12/1969"  # "Dr." of a street
    assert match(street).mrn == NOAH.mrn


def test_a_patient_listed_twice_in_one_import_keeps_the_last_identifiers(
    archive: Archive, rich_roster: list[Patient], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chartclerk.store.roster as store_roster

    monkeypatch.setattr(store_roster, "IMPORT_BATCH", 1)  # each entry its own batch
    later = dataclasses.replace(rich_roster[0], identifiers=(("account", "55100221"), ("member_id", "MX1")))
    assert archive.import_patients([rich_roster[0], rich_roster[1], later]) == 3
    assert archive.roster.by_mrn(later.mrn) == later
    assert archive.roster.by_identifier("member_id", "MX7710001") == []


def test_a_form_with_separate_last_and_first_name_fields() -> None:
    assert match("Last Name: WILSON   First Name: NOAH   MI: J\nBirth Date: 10/12/1969").mrn == NOAH.mrn
    assert match("Patient Last Name: Van der Berg\nFirst Name: Pieter\nDOB: 11/3/1947").mrn == PIETER.mrn
    spouse = "Patient: Mia Wilson   DOB: 06/19/2012\nSPOUSE / PARENT\n"
    spouse += "Last Name: Wilson   First Name: Ella\nDOB: 2/27/71"
    assert match(spouse).mrn == MIA.mrn
    assert page("Guarantor Last Name: Wilson   First Name: Ella").names == ()
