"""Patient matching (never file to the wrong patient) and the roster: CSV import, blocking."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from chartclerk.classify.identifiers import extract_identifiers
from chartclerk.classify.matching import dob_similarity, is_nickname, match_patient
from chartclerk.classify.models import Identifiers, Patient, PatientMatch, PersonName
from chartclerk.classify.roster import (
    MemoryRoster,
    blocking_key,
    normalize_mrn,
    normalize_name,
    read_roster_csv,
    soundex,
)
from chartclerk.errors import InputFileError
from chartclerk.settings import PatientSettings

SETTINGS = PatientSettings()
TODAY = dt.date(2024, 6, 1)

JOHN = Patient("00123456", "Smith", "John", dt.date(1960, 1, 2), "M")
JAMES = Patient("00123457", "Smith", "James", dt.date(1960, 1, 2), "M")  # John's twin
LOOKALIKE = Patient("00555111", "Smith", "John", dt.date(1971, 8, 19), "M")  # same name, other DOB
MARY = Patient("7788", "O'Brien", "Mary", dt.date(1945, 11, 30), "F")
BOB = Patient("4242", "Kowalski", "Robert", dt.date(1982, 3, 14), "M")
PEGGY = Patient("5151", "Lindqvist", "Margaret", dt.date(1938, 7, 4), "F")
ROSTER = MemoryRoster([JOHN, JAMES, LOOKALIKE, MARY, BOB, PEGGY])

# Every reason is one of these fixed phrases: no names, MRNs or dates can leak into it.
_KEY = r"(?:mrn|member id|account)"  # an MRN, or a number the roster gives one patient
REASONS = re.compile(
    rf"(no patient identifiers|conflicting MRNs|dob contradicts {_KEY}|name contradicts {_KEY}"
    rf"|{_KEY} not corroborated|mrn not in roster|{_KEY} match below threshold|{_KEY}\+name\+dob agree"
    rf"|{_KEY}\+dob agree|{_KEY}\+name agree|{_KEY}\+name agree, dob transposed|name\+dob agree|name only"
    rf"|dob only|no roster match|conflicting identifiers|ambiguous: \d+ candidates|sex contradicts {_KEY}"
    r"|twin in roster|look-alike in roster|cover sheet|cover sheet\+page agree|contradicts cover sheet"
    r"|cover sheet mrn not in roster|cover sheet below threshold|unreadable cover sheet"
    rf"|{_KEY}\+name agree, dob misread|name\+dob agree, mrn misread|unclear which name is the patient's"
    r")(, mrn misread|, previous mrn)?"
)


def match(ids: Identifiers, roster: MemoryRoster = ROSTER) -> PatientMatch:
    result = match_patient(ids, roster, SETTINGS)
    assert REASONS.fullmatch(result.reason), result.reason
    assert result.score is None or 0.0 <= result.score <= 1.0
    assert len(result.candidates) <= 5
    return result


def page(text: str) -> Identifiers:
    return extract_identifiers(text, today=TODAY)


def name(last: str, first: str) -> PersonName:
    return PersonName(normalize_name(last), normalize_name(first))


# --- with an MRN ------------------------------------------------------------------------------------


def test_mrn_and_dob_file() -> None:
    result = match(page("Patient: SMITH, JOHN   MRN: 00123456   DOB: 01/02/1960"))
    assert result.filed and result.mrn == JOHN.mrn
    assert result.reason == "mrn+name+dob agree" and result.score is not None and result.score >= 0.97


def test_mrn_without_leading_zeros_and_dob_alone_file() -> None:
    result = match(page("MRN 0004242\nDOB: 1982-03-14"))
    assert result.mrn == BOB.mrn and result.reason == "mrn+dob agree"


def test_mrn_and_dob_alone_do_not_file_a_twin() -> None:
    # John's twin James shares his DOB and surname: a misread MRN would go unnoticed.
    result = match(page("MRN 123456\nDOB: 1960-01-02"))
    assert not result.filed and result.reason == "twin in roster"
    assert match(page("MRN 123456\nName: John Smith\nDOB: 1960-01-02")).mrn == JOHN.mrn


def test_mrn_and_name_with_ocr_errors_file() -> None:
    result = match(page("Patient Name: SMlTH, J0HN\nMRN: OO123456"))
    assert result.mrn == JOHN.mrn and result.reason == "mrn+name agree"


def test_mrn_and_transposed_dob_with_name_file_as_weaker() -> None:
    transposed = match(
        Identifiers(mrns=("00123456",), names=(name("Smith", "John"),), dobs=(dt.date(1960, 2, 1),))
    )
    assert transposed.filed and transposed.reason == "mrn+name agree, dob transposed"
    exact = match(Identifiers(mrns=("00123456",), names=(name("Smith", "John"),), dobs=(JOHN.dob,)))
    assert transposed.score is not None and exact.score is not None and transposed.score < exact.score


def test_mrn_and_transposed_dob_alone_are_not_enough() -> None:
    result = match(Identifiers(mrns=("00123456",), dobs=(dt.date(1960, 2, 1),)))
    assert not result.filed and result.reason == "mrn not corroborated"


def test_mrn_with_wrong_dob_goes_to_review() -> None:
    result = match(page("Patient: SMITH, JOHN   MRN: 00123456   DOB: 03/04/1961"))
    assert not result.filed and result.reason == "dob contradicts mrn"


def test_mrn_with_a_clearly_different_name_goes_to_review() -> None:
    # The twin's MRN on John's page: DOB agrees, the first name does not.
    result = match(page("Patient: SMITH, JOHN   MRN: 00123457   DOB: 01/02/1960"))
    assert not result.filed and result.reason == "name contradicts mrn"
    assert match(page("Patient: JONES, ALICE   MRN: 00123456")).reason == "name contradicts mrn"


def test_mrn_only_goes_to_review() -> None:
    result = match(page("Lab results attached.\nMRN: 00123456"))
    assert not result.filed and result.reason == "mrn not corroborated"
    assert result.candidates == ((JOHN.mrn, result.score),)


def test_mrn_not_in_roster_never_files_even_when_the_name_and_dob_match_someone() -> None:
    result = match(page("Patient: SMITH, JOHN   MRN: 99999999   DOB: 01/02/1960"))
    assert not result.filed and result.reason == "mrn not in roster"
    assert result.candidates and result.candidates[0][0] == JOHN.mrn  # a suggestion for the reviewer


def test_two_different_mrns_go_to_review() -> None:
    result = match(page("Patient: SMITH, JOHN  MRN: 00123456  DOB: 01/02/1960\nMRN: 00123457"))
    assert not result.filed and result.reason == "conflicting MRNs"
    assert {mrn for mrn, _ in result.candidates} == {JOHN.mrn, JAMES.mrn}


def test_the_same_mrn_printed_twice_is_one_mrn() -> None:
    result = match(Identifiers(mrns=("00004242", "4242"), dobs=(BOB.dob,)))
    assert result.mrn == BOB.mrn


def test_no_identifiers_go_to_review() -> None:
    result = match(Identifiers())
    assert result == PatientMatch(None, None, "no patient identifiers")


def test_stricter_threshold_applies_to_mrn_matches_too() -> None:
    strict = PatientSettings(min_match_score=0.99)
    result = match_patient(Identifiers(mrns=("123456",), dobs=(JOHN.dob,)), ROSTER, strict)
    assert not result.filed and result.reason == "mrn match below threshold"


# --- without an MRN ---------------------------------------------------------------------------------


def test_unique_name_and_dob_file() -> None:
    result = match(page("Name: Mary O'Brien\nDate of Birth: November 30, 1945"))
    assert result.mrn == MARY.mrn and result.reason == "name+dob agree"
    assert result.candidates[0] == (MARY.mrn, result.score)


def test_name_with_an_ocr_error_and_dob_file() -> None:
    result = match(Identifiers(names=(name("OBRIAN", "MARY"),), dobs=(MARY.dob,)))
    assert result.mrn == MARY.mrn


def test_twins_file_only_with_the_right_first_name() -> None:
    john = match(Identifiers(names=(name("Smith", "John"),), dobs=(JOHN.dob,)))
    james = match(Identifiers(names=(name("Smith", "James"),), dobs=(JOHN.dob,)))
    assert john.mrn == JOHN.mrn and james.mrn == JAMES.mrn
    assert {c[0] for c in john.candidates} >= {JOHN.mrn, JAMES.mrn}
    initial = match(Identifiers(names=(PersonName("SMITH", "J"),), dobs=(JOHN.dob,)))
    assert not initial.filed


def test_a_twin_absent_from_the_roster_never_files_to_the_other() -> None:
    only_james = MemoryRoster([JAMES, MARY])
    result = match(Identifiers(names=(name("Smith", "John"),), dobs=(JOHN.dob,)), only_james)
    assert not result.filed and result.reason == "no roster match"


def test_a_look_alike_with_another_dob_is_never_chosen() -> None:
    result = match(Identifiers(names=(name("Smith", "John"),), dobs=(LOOKALIKE.dob,)))
    assert result.mrn == LOOKALIKE.mrn
    stranger = match(Identifiers(names=(name("Smith", "John"),), dobs=(dt.date(1990, 5, 5),)))
    assert not stranger.filed and stranger.reason == "no roster match"


def test_a_patient_absent_from_the_roster_never_files() -> None:
    result = match(page("Re: Nemo Nobody\nDOB: 05/05/1950"))
    assert not result.filed and result.reason == "no roster match"
    near = match(Identifiers(names=(name("Smith", "Jon"),), dobs=(dt.date(1960, 1, 3),)))
    assert not near.filed


@pytest.mark.parametrize(("first", "patient"), [("Bob", BOB), ("Bobby", BOB), ("Peggy", PEGGY)])
def test_nicknames_file(first: str, patient: Patient) -> None:
    result = match(Identifiers(names=(name(patient.last, first),), dobs=(patient.dob,)))
    assert result.mrn == patient.mrn


def test_name_printed_last_first_without_comma_still_matches() -> None:
    result = match(Identifiers(names=(PersonName("MARY", "OBRIEN"),), dobs=(MARY.dob,)))
    assert result.mrn == MARY.mrn


def test_transposed_dob_without_mrn_goes_to_review() -> None:
    swapped = dt.date(1938, 4, 7)  # PEGGY is 1938-07-04
    result = match(Identifiers(names=(name("Lindqvist", "Margaret"),), dobs=(swapped,)))
    assert not result.filed and result.candidates[0][0] == PEGGY.mrn


def test_a_second_person_on_the_page_blocks_filing_without_mrn() -> None:
    other_dob = match(Identifiers(names=(name("O'Brien", "Mary"),), dobs=(MARY.dob, dt.date(1970, 5, 6))))
    other_name = match(Identifiers(names=(name("O'Brien", "Mary"), name("Doe", "Jane")), dobs=(MARY.dob,)))
    assert not other_dob.filed and other_dob.reason == "conflicting identifiers"
    assert not other_name.filed and other_name.reason == "unclear which name is the patient's"


def test_name_only_and_dob_only_go_to_review() -> None:
    assert match(Identifiers(names=(name("O'Brien", "Mary"),))).reason == "name only"
    assert match(Identifiers(dobs=(MARY.dob,))).reason == "dob only"


def test_two_equally_good_candidates_are_ambiguous() -> None:
    clone = Patient("8899", "O'Brien", "Mary", MARY.dob, "F")  # a duplicate chart under another MRN
    result = match(
        Identifiers(names=(name("OBrien", "Mary"),), dobs=(MARY.dob,)), MemoryRoster([MARY, clone])
    )
    assert not result.filed and result.reason == "ambiguous: 2 candidates"


def test_similarity_helpers() -> None:
    assert is_nickname("BILL", "WILLIAM") and is_nickname("LIZ", "ELIZABETH")
    assert not is_nickname("PATRICIA", "PATRICK") and not is_nickname("JOHN", "JOHN")
    born = dt.date(1960, 1, 2)
    assert dob_similarity(born, born) == 1.0
    assert 0 < dob_similarity(dt.date(1960, 2, 1), born) < 1
    assert 0 < dob_similarity(dt.date(1961, 1, 2), born) < dob_similarity(dt.date(1960, 2, 1), born)
    assert dob_similarity(dt.date(1970, 5, 6), born) == 0.0


# --- roster -----------------------------------------------------------------------------------------


def test_normalizers_and_blocking_key() -> None:
    assert normalize_mrn(" 000123 ") == "123" and normalize_mrn("000") == "0" and normalize_mrn("") == ""
    assert normalize_name("O'Brien-Núñez, Jr.") == "OBRIEN NUNEZ JR"
    assert [soundex(n) for n in ("Robert", "Rupert", "Ashcraft", "Tymczak", "Pfister")] == [
        "R163", "R163", "A261", "T522", "P236",
    ]  # fmt: skip
    assert blocking_key("O'Brien") == blocking_key("OBRIEN") == "O165"
    assert blocking_key("De la Cruz") == blocking_key("DELACRUZ")
    assert blocking_key("") == ""


def test_blocking_key_agrees_with_the_archive_database() -> None:
    from chartclerk.store.roster import soundex as db_soundex

    for last in ("Smith", "O'Brien", "Núñez", "de la Cruz", "Lindqvist", "Ashcraft", "Straße", "Lee"):
        assert blocking_key(last) == db_soundex(last), last


def test_memory_roster_lookups() -> None:
    assert ROSTER.by_mrn("123456") == JOHN and ROSTER.by_mrn("00123456") == JOHN
    assert ROSTER.by_mrn("999") is None
    by_name = ROSTER.candidates(("SMYTH",), ())
    assert {p.mrn for p in by_name} == {JOHN.mrn, JAMES.mrn, LOOKALIKE.mrn}
    by_dob = ROSTER.candidates((), (MARY.dob,))
    assert by_dob == [MARY]
    assert ROSTER.candidates((), ()) == []


def test_memory_roster_keeps_the_first_of_duplicate_mrns() -> None:
    roster = MemoryRoster([JOHN, Patient("123456", "Other", "Person", dt.date(1999, 9, 9))])
    assert len(roster) == 1 and roster.by_mrn("123456") == JOHN


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_read_roster_csv_reports_bad_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    csv_file = write(
        tmp_path / "roster.csv",
        "\ufeffMRN,Last,First,DOB,Sex,Notes\n"
        "00123456,Smith,John,1960-01-02,m,ok\n"
        "7788,O'Brien,Mary,1945-11-30,F,\n"
        "\n"
        "1,Bad,Date,1960-13-01,F,\n"
        ",No,Mrn,1960-01-01,F,\n"
        "2,,Nolast,1960-01-01,F,\n"
        "3,Short\n"
        "123456,Dup,Licate,1970-01-01,M,\n"
        "4,Future,Born,2999-01-01,F,\n"
        '"5","Núñez","José","1950-05-05",,"quoted, with comma"\n',
    )
    result = read_roster_csv(csv_file)
    assert [p.mrn for p in result.patients] == ["00123456", "7788", "5"]
    assert result.patients[0] == JOHN
    assert result.patients[2].last == "Núñez" and result.patients[2].sex == ""
    assert result.errors == (
        "line 5: bad dob '1960-13-01'",
        "line 6: missing mrn",
        "line 7: missing last name",
        "line 8: expected at least 5 fields, got 2",
        "line 9: duplicate mrn '123456' (first on line 2)",
        "line 10: bad dob '2999-01-01'",
    )


def test_read_roster_csv_survives_unreadable_records(tmp_path: Path) -> None:
    huge = "x" * 200_000  # beyond the csv module's field limit
    text = f'mrn,last,first,dob\n1,{huge},A,1950-01-01\n2,"Multi\nLine",B,1950-01-01\n3,Ok,Fine,1950-01-01\n'
    result = read_roster_csv(write(tmp_path / "r.csv", text))
    assert [p.mrn for p in result.patients] == ["3"]
    assert result.errors == ("line 2: unreadable csv record", "line 3: control characters in name")


def test_read_roster_csv_without_sex_column(tmp_path: Path) -> None:
    result = read_roster_csv(write(tmp_path / "r.csv", "first,last,dob,mrn\nMary,O'Brien,1945-11-30,7788\n"))
    assert result.patients == (Patient("7788", "O'Brien", "Mary", dt.date(1945, 11, 30)),)
    assert result.errors == ()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("mrn,last,first,sex\n1,A,B,F\n", "dob"),
        ("", "empty"),
        ("id;name;birth\n", "mrn, last, first, dob"),
    ],
)
def test_read_roster_csv_rejects_a_bad_header(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        read_roster_csv(write(tmp_path / "r.csv", content))


def test_read_roster_csv_rejects_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not UTF-8"):
        read_roster_csv(
            write(tmp_path / "latin1.csv", "mrn,last,first,dob\n1,Núñez,A,1950-01-01\n", "latin-1")
        )
    with pytest.raises(InputFileError, match="cannot read"):
        read_roster_csv(tmp_path / "missing.csv")
