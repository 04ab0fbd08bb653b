"""Benchmark of patient identification: misfiles, auto-file rate, review rate, matching time.

Run from the repository root: ``.venv/bin/python bench/patients.py`` (about 3 minutes on 2
cores; ``--big 0`` skips the million-patient roster, ``--batches 0`` the real scans).

1. A roster of ``--patients`` synthetic patients with look-alikes: twins (same surname and
   DOB; some boy/girl with near-identical first names), same name with another DOB, same DOB
   with a near-identical name, same name with a DOB one OCR error away or with day and month
   swapped. People absent from the roster are made too: strangers, absent twins of roster
   patients, namesakes with another DOB, and same-DOB people with a similar name.
2. ``--docs`` text documents as OCR would return them: patient banners in many label and
   date formats (MRN/Chart #/Account #..., LAST, FIRST / First Last, 01/02/1960 / 02-JAN-1960
   / 1/2/60...), MRN-only lab labels, referral letters with only name + DOB, multi-page
   documents with a continuation banner, other people's names on the page (emergency
   contacts), and simulated OCR damage (O/0, l/1, S/5, B/8, 3/8, rn/m ..., dropped spaces).
   Each goes through extract_identifiers + match_patient against the roster held in memory,
   then against a SQLite archive roster of ``--big`` patients (the bench roster inside a
   million generated ones), timing ``match_patient`` per document.
3. ``--batches`` scanned batches (rendered, rotated, skewed, speckled pages) with separator
   sheets (QR, Code 39, Code 128) and patient cover sheets through the real pipeline
   (tesseract), checking every split and every filing.

A misfile is a document filed to a patient other than its own, or filed at all when its
patient is not in the roster. Everything printed is measured here; nothing is assumed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from chartclerk.classify import (
    MemoryRoster,
    Patient,
    PatientMatch,
    Roster,
    extract_identifiers,
    match_patient,
)
from chartclerk.classify.roster import normalize_mrn, normalize_name
from chartclerk.ingest.models import GrayImage
from chartclerk.settings import PatientSettings, Settings, load_settings
from chartclerk.store import Archive

TODAY = dt.date(2025, 6, 1)
SETTINGS = PatientSettings()

# --------------------------------------------------------------------------- names


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FEMALE = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Lisa Margaret Betty "
    "Sandra Ashley Dorothy Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca "
    "Laura Sharon Cynthia Kathleen Amy Shirley Angela Helen Anna Brenda Pamela Nicole Samantha Katherine "
    "Emma Ruth Christine Catherine Debra Rachel Carolyn Janet Virginia Maria Heather Diane Julie Joyce "
    "Victoria Kelly Christina Joan Evelyn Lauren Judith Olivia Frances Martha Cheryl Megan Andrea Hannah "
    "Jacqueline Ann Jean Alice Kathryn Gloria Teresa Doris Sara Janice Julia Marie Madison Grace Judy "
    "Theresa Beverly Denise Marilyn Amber Danielle Abigail Brittany Rose Diana Natalie Sophia Alexis Lori "
    "Kayla Jane Guadalupe Mei Aisha Priya Yuki Fatima Ingrid Svetlana Adriana Jessie Antonia"
)
_MALE = _words(
    "James Robert John Michael David William Richard Joseph Thomas Charles Christopher Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason "
    "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel "
    "Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas "
    "Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger Terry Gerald Harold Sean Austin Carl "
    "Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe Bruce Gabriel Logan Albert Willie Alan Juan Wayne "
    "Elijah Randy Roy Vincent Ralph Eugene Russell Bobby Mason Philip Louis Hiroshi Tariq Dmitri Rajesh "
    "Kwame Olaf Mateo Francis Adrian Antonio"
)
_COMMON_LAST = tuple(
    w.replace("_", " ")  # De_la_Cruz: one surname of three words
    for w in _words(
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
        "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
        "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
        "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
        "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
        "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson O'Brien Kowalski Okafor Lindqvist "
        "McDonald De_la_Cruz Nakamura Schmidt Novak Haddad Fischer Rossi Silva Costa Ivanova Olsen"
    )
)
_ONSETS = _words("B C D F G H K L M N P R S T V W Br Ch Gr St Th Bl Cr Dr Fl Kr Pr Sh Tr Wh Z")
_VOWELS = _words("a e i o u ai ea ie oo ou y")
_CODAS = _words("n r l s t nd rt ll ss ck m rn ld st nk sh")
_ENDINGS = _words(
    "son sen man ley ton berg ski ez ini ard ett well ford field wood worth by ham more stein kov ova "
    "ing er ell is ano eau ard er ington ner ley"
)
# Near-identical boy/girl names (twins): the sex on the page is what tells them apart.
_TWIN_PAIRS = (
    ("Daniel", "Danielle"), ("Francis", "Frances"), ("Jesse", "Jessie"), ("Adrian", "Adriana"),
    ("Antonio", "Antonia"), ("Christian", "Christina"), ("Samuel", "Samantha"), ("Louis", "Louise"),
)  # fmt: skip
_NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Margaret": "Peggy", "Richard": "Rick",
    "James": "Jim", "Joseph": "Joe", "Thomas": "Tom", "Michael": "Mike", "Katherine": "Kathy",
    "Patricia": "Pat", "Jennifer": "Jen", "Anthony": "Tony", "Christopher": "Chris", "Daniel": "Dan",
    "Edward": "Ed", "Susan": "Sue", "Deborah": "Debbie", "Alexander": "Alex", "Benjamin": "Ben",
}  # fmt: skip


class NamePool:
    """Synthetic first and last names with skewed frequencies (a few very common, a long tail)."""

    def __init__(self, rng: random.Random, surnames: int = 30_000) -> None:
        generated: dict[str, None] = {}
        while len(generated) < surnames:
            name = rng.choice(_ONSETS) + rng.choice(_VOWELS)
            if rng.random() < 0.6:
                name += rng.choice(_CODAS) + rng.choice(_VOWELS)
            name += rng.choice(_ENDINGS)
            generated.setdefault(name.capitalize(), None)
        self.last = [*_COMMON_LAST, *(n for n in generated if n not in _COMMON_LAST)]
        self._last_weights = _cumulative([1 / (i + 8) ** 0.85 for i in range(len(self.last))])
        self._female_weights = _cumulative([1 / (i + 4) for i in range(len(_FEMALE))])
        self._male_weights = _cumulative([1 / (i + 4) for i in range(len(_MALE))])

    def surname(self, rng: random.Random) -> str:
        return rng.choices(self.last, cum_weights=self._last_weights)[0]

    def first(self, rng: random.Random, sex: str) -> str:
        if sex == "F":
            return rng.choices(_FEMALE, cum_weights=self._female_weights)[0]
        return rng.choices(_MALE, cum_weights=self._male_weights)[0]


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _random_dob(rng: random.Random) -> dt.date:
    return dt.date.fromordinal(
        rng.randint(dt.date(1930, 1, 1).toordinal(), dt.date(2020, 12, 31).toordinal())
    )


def _sex_of(first: str) -> str:
    return "F" if first in _FEMALE or first in ("Louise",) else "M"


# --------------------------------------------------------------------------- roster with look-alikes


@dataclass(frozen=True, slots=True)
class Person:
    patient: Patient
    group: str  # what kind of look-alike (or "plain", or why absent)
    in_roster: bool


class MrnSource:
    """Unique 8-digit MRNs (some with leading zeros)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def __call__(self, wanted: str | None = None) -> str:
        if wanted is not None and wanted not in self._used:
            self._used.add(wanted)
            return wanted
        while True:
            mrn = f"{self._rng.randrange(10**8):08d}"
            if mrn not in self._used:
                self._used.add(mrn)
                return mrn


def build_people(rng: random.Random, names: NamePool, mrn: MrnSource, size: int) -> list[Person]:
    """``size`` roster patients (a quarter of them in look-alike groups) and absent people."""
    people: list[Person] = []

    def add(last: str, first: str, dob: dt.date, group: str, after: Patient | None = None) -> Patient:
        # twins are often registered together: every other pair gets consecutive MRNs
        wanted = f"{int(after.mrn) + 1:08d}" if after is not None and rng.random() < 0.5 else None
        p = Patient(mrn(wanted), last, first, dob, _sex_of(first))
        people.append(Person(p, group, in_roster=True))
        return p

    def someone(group: str) -> Patient:
        sex = rng.choice("FM")
        return add(names.surname(rng), names.first(rng, sex), _random_dob(rng), group)

    groups = max(1, size // 60)
    for _ in range(groups * 2):  # twins, other first names
        a = someone("twins")
        add(a.last, _other_first(rng, names, a.first), a.dob, "twins", after=a)
    for i in range(groups):  # boy/girl twins with near-identical names
        boy, girl = _TWIN_PAIRS[i % len(_TWIN_PAIRS)]
        last, dob = names.surname(rng), _random_dob(rng)
        add(last, girl, dob, "twins boy/girl", after=add(last, boy, dob, "twins boy/girl"))
    for _ in range(groups * 2):  # namesakes
        a = someone("same name, other dob")
        add(a.last, a.first, _random_dob(rng), "same name, other dob")
    for _ in range(groups):  # same DOB, near-identical name: only an MRN tells them apart
        a = someone("same dob, similar name")
        add(_misspell(rng, a.last), a.first, a.dob, "same dob, similar name")
    for _ in range(groups):  # same name, DOB one OCR error away
        a = someone("same name, dob one digit off")
        add(a.last, a.first, _digit_off(rng, a.dob), "same name, dob one digit off")
    for _ in range(groups):  # same name, day and month swapped
        a = add(names.surname(rng), names.first(rng, "F"), _swappable_dob(rng), "same name, dob swapped")
        add(a.last, a.first, dt.date(a.dob.year, a.dob.day, a.dob.month), "same name, dob swapped")
    while sum(p.in_roster for p in people) < size:
        someone("plain")

    roster = [p.patient for p in people if p.in_roster]
    taken = {(normalize_name(p.last), normalize_name(p.first), p.dob) for p in roster}
    absent: list[Person] = []
    for i in range(size // 7):
        kind = i % 4
        model = rng.choice(roster)
        if kind == 0:
            sex = rng.choice("FM")
            p = Patient(mrn(), names.surname(rng), names.first(rng, sex), _random_dob(rng), sex)
            group = "absent: stranger"
        elif kind == 1:
            first = _other_first(rng, names, model.first)
            p = Patient(mrn(), model.last, first, model.dob, _sex_of(first))
            group = "absent: twin of a patient"
        elif kind == 2:
            p = Patient(mrn(), model.last, model.first, _random_dob(rng), model.sex)
            group = "absent: namesake, other dob"
        else:
            first = _other_first(rng, names, model.first, same_initial=True)
            p = Patient(mrn(), model.last, first, model.dob, _sex_of(first))
            group = "absent: same dob, similar name"
        if (normalize_name(p.last), normalize_name(p.first), p.dob) not in taken:
            absent.append(Person(p, group, in_roster=False))
    return people + absent


def _other_first(rng: random.Random, names: NamePool, first: str, same_initial: bool = False) -> str:
    pool = [n for n in (*_FEMALE, *_MALE) if n != first and n not in _NICKNAMES.values()]
    if same_initial:
        pool = [n for n in pool if n[0] == first[0]] or pool
    # a different person's name, not a variant of this one
    from chartclerk.classify.matching import first_name_similarity, is_nickname

    pool = [
        n for n in pool
        if first_name_similarity(n.upper(), first.upper()) < 0.8 and not is_nickname(n.upper(), first.upper())
    ]  # fmt: skip
    return rng.choice(pool)


def _misspell(rng: random.Random, name: str) -> str:
    letters = list(name)
    i = rng.randrange(1, len(letters))
    letters[i] = rng.choice([c for c in "aeiouy" if c != letters[i].lower()])
    return "".join(letters)


def _digit_off(rng: random.Random, dob: dt.date) -> dt.date:
    from chartclerk.classify.matching import near_dates

    options = [
        d for d in near_dates(dob) if d != dob and d.year <= 2020 and (d.month, d.day) != (dob.day, dob.month)
    ]
    return rng.choice(options)


def _swappable_dob(rng: random.Random) -> dt.date:
    while True:
        d = _random_dob(rng)
        if d.day <= 12 and d.day != d.month:
            return d


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Doc:
    text: str
    person: Person
    kind: str
    damage: str  # none, light, heavy


_FILLER = (
    "The patient tolerated the visit well and all questions were answered.",
    "Vital signs remained stable and the patient was afebrile throughout.",
    "Medication reconciliation was completed and reviewed with the patient.",
    "Laboratory values were reviewed and discussed with the patient today.",
    "Follow-up with the primary care physician is recommended in two weeks.",
    "Risks, benefits and alternatives were discussed and the patient agreed.",
    "Hemoglobin 13.2 g/dL   Sodium 139 mmol/L   Creatinine 0.9 mg/dL   Glucose 94 mg/dL",
    "Assessment: essential hypertension, stable. Plan: continue lisinopril 10 mg daily.",
)
_MRN_LABELS = (
    "MRN",
    "MRN #",
    "MRN:",
    "Medical Record No.",
    "Med Rec #",
    "Chart #",
    "MR#",
    "Medical Record Number",
)


def _dob_text(rng: random.Random, d: dt.date) -> str:
    month = d.strftime("%b")
    choices = [
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        d.isoformat(),
        f"{month} {d.day}, {d.year}",
        f"{d.day:02d}-{month.upper()}-{d.year}",
        f"{d.strftime('%B')} {d.day}, {d.year}",
        f"{d.month}/{d.day}/{d.year}",
    ]
    if d.year >= 1930:
        choices.append(f"{d.month}/{d.day}/{d.year % 100:02d}")
    return rng.choice(choices)


def _name_text(rng: random.Random, p: Patient, nickname: bool = False) -> str:
    first = _NICKNAMES.get(p.first, p.first) if nickname else p.first
    middle = rng.choice(("", "", f" {rng.choice('ABCDEJKLMRST')}", f" {rng.choice('ABCDEJKLMRST')}."))
    return rng.choice(
        (
            f"{p.last.upper()}, {first.upper()}{middle.upper()}",
            f"{first}{middle} {p.last}",
            f"{p.last}, {first}{middle}",
            f"{first.upper()} {p.last.upper()}",
        )
    )


def _mrn_text(rng: random.Random, mrn: str) -> str:
    return mrn.lstrip("0") if rng.random() < 0.15 else mrn


def _sex_text(rng: random.Random, p: Patient) -> str:
    if rng.random() < 0.55:
        return ""
    return rng.choice(
        (f"   Sex: {p.sex}", f"   SEX: {p.sex}", f"   Gender: {'Female' if p.sex == 'F' else 'Male'}")
    )


def _body(rng: random.Random, lines: int) -> str:
    return "\n".join(rng.choice(_FILLER) for _ in range(lines))


def make_document(rng: random.Random, person: Person, facility_patient: Patient) -> Doc:
    p = person.patient
    kind = rng.choices(
        ("banner", "mrn+dob label", "mrn+name label", "referral (name+dob)", "two pages", "account #"),
        weights=(45, 7, 8, 25, 10, 5),
    )[0]
    label = rng.choice(_MRN_LABELS)
    mrn, name, dob = _mrn_text(rng, p.mrn), _name_text(rng, p), _dob_text(rng, p.dob)
    head = "Riverside Community Hospital\n1200 Lakeshore Drive, Springfield, OR 97477\n"
    if kind == "banner":
        banner = rng.choice(
            (
                f"Patient: {name}   {label} {mrn}   DOB: {dob}{_sex_text(rng, p)}",
                f"Name: {name}   DOB: {dob}{_sex_text(rng, p)}   {label} {mrn}",
                f"PATIENT NAME: {name}   {label}: {mrn}\nDATE OF BIRTH: {dob}{_sex_text(rng, p)}",
            )
        )
        text = f"{head}PROGRESS NOTE\n{banner}\n\n{_body(rng, 8)}"
    elif kind == "mrn+dob label":
        text = f"{head}LABORATORY REPORT\n{label} {mrn}   DOB: {dob}\nCollected 03/04/2024\n{_body(rng, 5)}"
    elif kind == "mrn+name label":
        text = f"{head}RADIOLOGY REPORT\nPatient: {name}   {label} {mrn}\n{_body(rng, 6)}"
    elif kind == "referral (name+dob)":
        nick = rng.random() < 0.15
        who = _name_text(rng, p, nickname=nick)
        intro = rng.choice(
            (f"Re: {who}   DOB: {dob}", f"RE: {who}\nDate of Birth: {dob}", f"Patient: {who} (DOB {dob})")
        )
        text = (
            f"{head}March 4, 2024\n\nDear Dr. Whitfield,\n{intro}\n\nI am referring this patient for "
            f"specialist evaluation. {_body(rng, 5)}\nSincerely,\nDr. Priya Raman"
        )
    elif kind == "two pages":
        banner = f"Patient: {name}   {label} {mrn}   DOB: {dob}"
        cont = f"{p.last.upper()}, {p.first.upper()}   MRN {mrn}   Page 2 of 2"
        text = f"{head}DISCHARGE SUMMARY\n{banner}\n{_body(rng, 10)}\n\f{cont}\n{_body(rng, 10)}"
    else:
        text = f"{head}STATEMENT\nPatient Account #: {mrn}\nPatient: {name}   DOB: {dob}\n{_body(rng, 4)}"
    if rng.random() < 0.2:  # someone else named on the page
        c = facility_patient
        text += f"\n\nEmergency Contact\nName: {c.first} {c.last}   Phone: (541) 555-0134"
    roll = rng.random()
    damage = "none" if roll < 0.7 else "light" if roll < 0.9 else "heavy"
    if damage != "none":
        text = ocr_damage(text, rng, 0.01 if damage == "light" else 0.04)
    return Doc(text, person, kind, damage)


_OCR_SWAPS = {
    "0": "O", "O": "0", "o": "0", "1": "l", "l": "1", "I": "l", "5": "S", "S": "5", "8": "B", "B": "8",
    "m": "rn", "e": "c", "a": "o", "3": "8", "6": "5", "7": "1", "h": "b", "n": "ri",
}  # fmt: skip


def ocr_damage(text: str, rng: random.Random, rate: float) -> str:
    """Character confusions typical of OCR on a poor scan, and dropped spaces, at ``rate``."""
    out = []
    for ch in text:
        roll = rng.random()
        if roll < rate and ch in _OCR_SWAPS:
            out.append(_OCR_SWAPS[ch])
        elif roll < rate / 3 and ch == " ":
            continue
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- evaluation


@dataclass
class Tally:
    filed: int = 0
    misfiled: int = 0
    review: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.filed + self.misfiled + self.review

    def add(self, doc: Doc, match: PatientMatch) -> None:
        if match.mrn is None:
            self.review += 1
            self.reasons[match.reason] += 1
        elif doc.person.in_roster and normalize_mrn(match.mrn) == normalize_mrn(doc.person.patient.mrn):
            self.filed += 1
        else:
            self.misfiled += 1

    def line(self, label: str) -> str:
        n = self.total or 1
        return (
            f"  {label:<32} {self.total:>5} docs  filed {self.filed:>5} ({100 * self.filed / n:5.1f}%)  "
            f"review {self.review:>5} ({100 * self.review / n:5.1f}%)  misfiled {self.misfiled}"
        )


def evaluate(docs: Sequence[Doc], roster: Roster, label: str) -> list[float]:
    """Run every document through extraction and matching; print what came out. Returns the
    seconds match_patient took per document."""
    overall_in, overall_out = Tally(), Tally()
    by_kind: dict[str, Tally] = {}
    by_group: dict[str, Tally] = {}
    by_damage: dict[str, Tally] = {}
    times: list[float] = []
    extract_times: list[float] = []
    misfiles: list[str] = []
    for doc in docs:
        start = time.perf_counter()
        ids = extract_identifiers(doc.text, today=TODAY)
        extract_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        match = match_patient(ids, roster, SETTINGS)
        times.append(time.perf_counter() - start)
        tally = overall_in if doc.person.in_roster else overall_out
        tally.add(doc, match)
        for table, key in ((by_kind, doc.kind), (by_group, doc.person.group), (by_damage, doc.damage)):
            if doc.person.in_roster:
                table.setdefault(key, Tally()).add(doc, match)
        if match.mrn is not None and not (
            doc.person.in_roster and normalize_mrn(match.mrn) == normalize_mrn(doc.person.patient.mrn)
        ):
            misfiles.append(f"{doc.kind}/{doc.person.group}/{doc.damage}: {match.reason}")
    everyone = overall_in.total + overall_out.total
    print(f"\n== {label}")
    auto = 100 * overall_in.filed / overall_in.total
    print(f"  auto-file rate, documents of patients in the roster: {auto:.1f}%")
    print(f"  misfiles: {overall_in.misfiled + overall_out.misfiled} (of {everyone} documents)")
    print(f"  review rate, all documents: {100 * (overall_in.review + overall_out.review) / everyone:.1f}%")
    _print_times("matching time per document (match_patient)", times)
    _print_times("identifier extraction per document", extract_times)
    print(overall_in.line("patients in the roster"))
    print(overall_out.line("patients absent from the roster"))
    for m in misfiles[:20]:
        print(f"    MISFILE {m}")
    print(" in-roster documents by kind:")
    for key in sorted(by_kind):
        print(by_kind[key].line(key))
    print(" in-roster documents by look-alike group:")
    for key in sorted(by_group):
        print(by_group[key].line(key))
    print(" in-roster documents by OCR damage:")
    for key in ("none", "light", "heavy"):
        if key in by_damage:
            print(by_damage[key].line(key))
    print(" why in-roster documents went to review:")
    for reason, count in overall_in.reasons.most_common():
        print(f"    {count:>5}  {reason}")
    print(" why absent patients' documents went to review:")
    for reason, count in overall_out.reasons.most_common():
        print(f"    {count:>5}  {reason}")
    return times


def _print_times(label: str, seconds: Sequence[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"  {label}: mean {statistics.fmean(ms):.2f} ms, p50 {statistics.median(ms):.2f} ms, "
        f"p95 {p95:.2f} ms, max {ms[-1]:.2f} ms ({len(ms)} documents)"
    )


# --------------------------------------------------------------------------- the big roster


def filler_patients(rng: random.Random, names: NamePool, mrn: MrnSource, count: int) -> Iterator[Patient]:
    for _ in range(count):
        sex = rng.choice("FM")
        yield Patient(mrn(), names.surname(rng), names.first(rng, sex), _random_dob(rng), sex)


def big_roster(
    args: argparse.Namespace, workdir: Path, people: list[Person], names: NamePool, mrn: MrnSource
) -> tuple[Settings, Archive]:
    config = workdir / "config.yaml"
    config.write_text(
        f"archive: {workdir / 'archive'}\ninbox: {workdir / 'inbox'}\nworkers: 2\n", encoding="utf-8"
    )
    settings = load_settings(config)
    archive = Archive.open(settings)
    rng = random.Random(f"filler:{args.seed}")
    start = time.perf_counter()
    imported = archive.import_patients(filler_patients(rng, names, mrn, args.big))
    imported += archive.import_patients(p.patient for p in people if p.in_roster)
    seconds = time.perf_counter() - start
    print(
        f"\nroster import into SQLite: {imported:,} patients in {seconds:.1f} s ({imported / seconds:,.0f}/s)"
    )
    return settings, archive


# --------------------------------------------------------------------------- scanned batches


@dataclass(frozen=True, slots=True)
class Expected:
    pages: tuple[int, int]  # source pages of the document
    mrn: str | None  # the patient it must be filed to (None: must go to review)


def make_batch(rng: random.Random, people: list[Person], dpi: int) -> tuple[list[GrayImage], list[Expected]]:
    """Pages of one scanned batch and the documents it must give: a cover sheet for patient A,
    four documents (one without any identifier, one of another patient) between separator sheets
    in turn QR, Code 39 and Code 128, then B's cover sheet and two documents."""
    from chartclerk.ingest.coversheet import cover_sheet_for, render_cover_sheet
    from chartclerk.tests.scans import FakePatient, distort, render_document, separator_sheet

    in_roster = [p.patient for p in people if p.in_roster and p.group == "plain"]
    a, b, stranger = rng.sample(in_roster, 3)
    pages: list[GrayImage] = []
    expected: list[Expected] = []
    kinds = iter(("qr", "code39", "code128", "qr"))

    def scan(image: GrayImage, turns: int) -> GrayImage:
        skew = rng.uniform(-3, 3)
        return distort(
            image, skew_degrees=skew, quarter_turns_ccw=turns, noise=0.002, seed=rng.randrange(999)
        )

    def doc(patient: Patient | None, doc_type: str, file_to: str | None, n: int = 1) -> None:
        who = (
            FakePatient(patient.mrn, patient.last, patient.first, patient.dob, patient.sex)
            if patient
            else None
        )
        rendered = render_document(doc_type, who, seed=rng.randrange(10**6), dpi=dpi, pages=n, body_lines=10)
        first = len(pages) + 1
        pages.extend(scan(img, rng.choice((0, 0, 1, 2, 3))) for img in rendered.pages)
        expected.append(Expected((first, len(pages)), file_to))

    def separator() -> None:
        pages.append(scan(separator_sheet("PATCHT", kind=next(kinds), dpi=dpi), rng.choice((0, 2))))

    def cover(p: Patient) -> None:
        pages.append(scan(render_cover_sheet(cover_sheet_for(p), dpi=dpi), rng.choice((0, 1, 2, 3))))

    cover(a)
    doc(a, "discharge_summary", a.mrn, n=2)
    separator()
    doc(None, "progress_note", a.mrn)  # no identifiers on it: the cover sheet alone files it
    separator()
    doc(a, "lab_report", a.mrn)
    separator()
    doc(stranger, "radiology_report", None)  # another patient under A's cover sheet: review
    cover(b)  # a cover sheet also ends the document before it
    doc(b, "referral", b.mrn)
    separator()
    doc(None, "consent_form", b.mrn)
    return pages, expected


def run_batches(args: argparse.Namespace, settings: Settings, archive: Archive, people: list[Person]) -> None:
    """Scanned batches through the pipeline; document typing is stubbed (a confident "other"):
    this benchmark is about patients, and a document's status then says only that."""
    from chartclerk import pipeline
    from chartclerk.classify import Classification
    from chartclerk.tests.scans import write_pdf
    from chartclerk.workers import make_pool

    rng = random.Random(f"batches:{args.seed}")
    folder = settings.archive.parent / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[Expected]] = {}
    for i in range(args.batches):
        pages, expected = make_batch(rng, people, args.dpi)
        name = f"batch-{i + 1}.pdf"
        write_pdf(folder / name, pages, dpi=args.dpi)
        truth[name] = expected
    start = time.perf_counter()
    with (
        mock.patch.object(pipeline, "classify_document", lambda text, s: Classification("other", None, 1.0)),
        make_pool(2) as pool,
    ):
        outcomes = pipeline.ingest_files([folder], settings, archive, pool)
    seconds = time.perf_counter() - start
    docs = [d for d in archive.list_documents() if d["source"] in truth]
    split_ok = filed_ok = review_ok = misfiled = wrong_review = 0
    for name, expected in truth.items():
        got = {tuple(d["source_pages"]): d for d in docs if d["source"] == name}
        split_ok += sorted(got) == [e.pages for e in expected]
        for e in expected:
            d = got.get(e.pages)
            if d is None:
                continue
            if d["patient_mrn"] is not None and d["patient_mrn"] != e.mrn:
                misfiled += 1
            elif e.mrn is None:
                review_ok += d["status"] == "review"
            elif d["status"] == "filed":
                filed_ok += 1
            else:
                wrong_review += 1
                print(f"    to review instead: {name} p{e.pages[0]}-{e.pages[1]}: {d['review_reason']}")
    pages_read = sum(o.pages for o in outcomes)
    expected_docs = sum(len(e) for e in truth.values())
    must_file = sum(e.mrn is not None for ex in truth.values() for e in ex)
    archived = sum(o.status == "archived" for o in outcomes)
    print(f"\n== scanned batches through the pipeline (tesseract, {args.dpi} dpi, 2 workers; typing stubbed)")
    print(f"  {len(truth)} batches ({archived} archived), {pages_read} pages, {seconds:.0f} s")
    print(f"  batches split exactly at their separator and cover sheets: {split_ok}/{len(truth)} "
          f"({expected_docs} documents expected)")  # fmt: skip
    print(
        f"  documents filed to their cover sheet's patient: {filed_ok}/{must_file} (review: {wrong_review})"
    )
    others = expected_docs - must_file
    print(f"  another patient's document under a cover sheet sent to review: {review_ok}/{others}")
    print(f"  misfiles: {misfiled}")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=1200, help="roster patients with look-alikes")
    parser.add_argument("--docs", type=int, default=4000, help="text documents")
    parser.add_argument(
        "--big", type=int, default=1_000_000, help="patients added to the SQLite roster (0: skip)"
    )
    parser.add_argument(
        "--batches", type=int, default=3, help="scanned batches through the pipeline (0: skip)"
    )
    parser.add_argument("--dpi", type=int, default=200, help="resolution of the scanned batches")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rng = random.Random(f"people:{args.seed}")
    names = NamePool(rng)
    mrn = MrnSource(rng)
    people = build_people(rng, names, mrn, args.patients)
    roster_people = [p for p in people if p.in_roster]
    absent = [p for p in people if not p.in_roster]
    print(f"roster: {len(roster_people)} patients: {_counts(p.group for p in roster_people)}")
    print(f"absent from the roster: {len(absent)} people: {_counts(p.group for p in absent)}")

    doc_rng = random.Random(f"docs:{args.seed}")
    docs = []
    for _ in range(args.docs):
        person = doc_rng.choice(absent) if doc_rng.random() < 0.15 else doc_rng.choice(roster_people)
        docs.append(make_document(doc_rng, person, doc_rng.choice(roster_people).patient))
    print(f"documents: {len(docs)}: {_counts(d.kind for d in docs)}")
    absent_docs = sum(not d.person.in_roster for d in docs)
    print(f"  OCR damage: {_counts(d.damage for d in docs)}; patients absent from the roster: {absent_docs}")

    memory = MemoryRoster(p.patient for p in roster_people)
    evaluate(docs, memory, f"roster of {len(memory):,} patients (in memory)")
    if not args.big and not args.batches:
        return
    with tempfile.TemporaryDirectory(prefix="chartclerk-bench-") as tmp:
        settings, archive = big_roster(args, Path(tmp), people, names, mrn)
        try:
            if args.big:
                count = archive.patient_count()
                times = evaluate(
                    docs, archive.roster, f"roster of {count:,} patients (SQLite archive, schema as is)"
                )
                _by_path(docs, times)
                _with_composite_index(docs, archive)
            if args.batches:
                run_batches(args, settings, archive, people)
        finally:
            archive.close()


def _counts(items: Iterator[str] | Sequence[str]) -> str:
    return ", ".join(f"{key} {n}" for key, n in Counter(items).most_common())


def _by_path(docs: Sequence[Doc], times: Sequence[float]) -> None:
    by_kind: dict[str, list[float]] = {}
    for doc, t in zip(docs, times, strict=True):
        by_kind.setdefault(doc.kind, []).append(t)
    for kind in sorted(by_kind):
        _print_times(f"  {kind}", by_kind[kind])


def _with_composite_index(docs: Sequence[Doc], archive: Archive) -> None:
    """The same documents once more with the index recommended for the schema, (last_key, dob)."""
    from sqlalchemy import text

    from chartclerk.store import ArchiveRoster

    with archive.engine.begin() as conn:
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS bench_patients_last_key_dob ON patients (last_key, dob)")
        )
    roster = ArchiveRoster(archive.engine)
    times = []
    for doc in docs:
        ids = extract_identifiers(doc.text, today=TODAY)
        start = time.perf_counter()
        match_patient(ids, roster, SETTINGS)
        times.append(time.perf_counter() - start)
    print("\n== the same documents with a composite index patients(last_key, dob) (not in the schema yet)")
    _print_times("match_patient per document", times)
    _by_path(docs, times)


if __name__ == "__main__":
    main()
