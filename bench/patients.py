"""Benchmark of patient identification: misfiles, auto-file rate, review rate, matching time.

Run from the repository root: ``.venv/bin/python bench/patients.py`` (5 to 7 minutes on 2
cores; ``--big 0`` skips the million-patient roster, ``--batches 0`` the real scans,
``--family outside`` runs only the held-out family of 0., ``--family earlier`` only 1.-3.).

0. A held-out family of outside paperwork (issue 17), neither its templates nor its roster in
   the tests: clinic notes, insurance cards (a member's, a subscriber's own, a dependent's),
   nursing-home, behavioral-health, workers' comp and pediatric forms, consult letters, label
   stickers, registrations (the guarantor's block first, too), pharmacy records, insurer letters,
   consents and the earlier wording, with every patient label (Patient, Pt, Member, Client,
   Resident, Claimant, Employee, Child's Name, Re:, Regarding, Subscriber, Insured, a letter's
   "your patient", a sticker...), every birth-date label and form, name forms (suffixes,
   two-part and hyphenated surnames, middle names, nicknames, maiden names) and other people on
   the page (guarantor, spouse, next of kin, parent, responsible party, subscriber, physicians,
   witness, interpreter, pharmacist), most of them roster patients: the patient's household.
   Its roster of ``--outside-patients`` holds households, twins, namesakes with another DOB, an
   MRN one misread digit from another patient's, namesakes of relatives and of physicians, and
   member IDs, account numbers, previous MRNs and maiden names for some. ``--outside-docs``
   documents, 12% about people absent from the roster, 30% with OCR damage; rates per form,
   label kind, other person, roster group; against the roster in memory and in a SQLite archive.

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
    PersonName,
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
    from chartclerk import assemble, pipeline
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
        mock.patch.object(assemble, "classify_document", lambda text, s: Classification("other", None, 1.0)),
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


# --------------------------------------------------------------------------- held-out: outside paperwork
#
# Forms as outside facilities word them (issue 17): every label a form names its patient with,
# name and date forms, and the other people on the page (guarantor, spouse, parent, physicians...),
# many of them on the roster themselves. Neither these templates nor this roster are in the tests.

_COMPOUND_LAST = (
    "Garcia Lopez", "Van der Berg", "O'Neil", "Smith-Jones", "De la Cruz", "McDonald", "St. John",
    "Hernandez Ruiz", "Van Dyke", "D'Angelo", "Martinez-Soto", "Le Blanc", "MacKenzie", "Del Rio",
)  # fmt: skip
_STAFF = (
    ("Alan", "Lee"), ("Maria", "Gomez"), ("David", "Whitfield"), ("Priya", "Raman"), ("Samuel", "Okoye"),
    ("Helen", "Park"), ("Thomas", "Becker"), ("Rachel", "Stein"), ("Victor", "Osei"), ("Laura", "Nilsen"),
    ("Kevin", "Hart"), ("Nina", "Patel"), ("George", "Mills"), ("Anita", "Rao"), ("Paul", "Duarte"),
)  # fmt: skip
_MIDDLE = _words("Ann Marie Lynn Lee James Ray Allen Jean Louise Edward Grace Rose Michael Joseph Elena")


@dataclass(frozen=True, slots=True)
class OutsideDoc:
    text: str
    person: Person
    form: str
    name_label: str  # the label (kind) the patient's name is under, "none" when not printed
    dob_label: str  # the label (kind) of the patient's DOB, "none" when not printed
    bystanders: tuple[str, ...]  # kinds of the other people named on the page
    bystander_on_roster: bool  # one of them (name, and DOB when printed) is a roster patient
    damage: str

    @property
    def full_name_and_dob(self) -> bool:
        return self.name_label != "none" and self.dob_label != "none"


def build_outside_people(
    rng: random.Random, names: NamePool, mrn: MrnSource, size: int
) -> tuple[list[Person], dict[str, list[Patient]]]:
    """A roster of ``size`` patients as a records office has it: households (spouses, children:
    one surname, the bystanders of one another's paperwork), twins, namesakes with another DOB,
    an MRN one misread digit from another patient's, namesakes of other patients' relatives and
    of physicians; member IDs (shared plan prefix per household), account numbers, previous MRNs
    and maiden names for some. Returns the people (absent ones too) and each patient's household."""
    people: list[Person] = []
    household: dict[str, list[Patient]] = {}
    used_ids: set[str] = set()

    def add(p: Patient, group: str) -> Patient:
        people.append(Person(p, group, in_roster=True))
        return p

    def new(
        last: str, sex: str, dob: dt.date, group: str, ids: tuple[tuple[str, str], ...] = (), maiden: str = ""
    ) -> Patient:
        first = names.first(rng, sex)
        aliases = (PersonName(normalize_name(maiden), normalize_name(first)),) if maiden else ()
        return add(Patient(mrn(), last, first, dob, sex, aliases, ids), group)

    def surname() -> str:
        return rng.choice(_COMPOUND_LAST) if rng.random() < 0.12 else names.surname(rng)

    def identifiers(prefix: str | None, member: int) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        if prefix is not None:
            out.append(("member_id", f"{prefix}{member:02d}"))
        if rng.random() < 0.3:
            while True:
                acct = f"{rng.randrange(10**9):09d}"
                if acct not in used_ids:
                    used_ids.add(acct)
                    break
            out.append(("account", acct))
        if rng.random() < 0.04:
            out.append(("previous_mrn", f"{rng.randrange(10**7):07d}"))
        return tuple(out)

    while sum(p.in_roster for p in people) < size:
        roll = rng.random()
        last = surname()
        prefix = f"{rng.choice('WXYZHJK')}{rng.randrange(10**7):07d}" if rng.random() < 0.6 else None
        if roll < 0.35:  # a household: two spouses and maybe children, all on the roster
            dob = _random_dob(rng)
            if dob.year > 1995:
                dob = dob.replace(year=rng.randint(1940, 1995))
            maiden = names.surname(rng)
            a = new(last, "M", dob, "household", identifiers(prefix, 1))
            b_dob = min(dob + dt.timedelta(days=rng.randint(-2000, 2000)), dt.date(2000, 1, 1))
            maiden = names.surname(rng) if rng.random() < 0.3 else ""
            b = new(last, "F", b_dob, "household", identifiers(prefix, 2), maiden)
            members = [a, b]
            for k in range(rng.choice((0, 0, 1, 2, 3))):
                child_dob = dob + dt.timedelta(days=rng.randint(20 * 365, 40 * 365))
                if child_dob < TODAY:
                    members.append(
                        new(last, rng.choice("FM"), child_dob, "household", identifiers(prefix, 3 + k))
                    )
            if rng.random() < 0.08:  # twins among the children
                twin_of = members[-1]
                members.append(
                    add(
                        Patient(
                            mrn(f"{int(twin_of.mrn) + 1:08d}" if rng.random() < 0.5 else None),
                            last, _other_first(rng, names, twin_of.first), twin_of.dob, rng.choice("FM"),
                        ),
                        "twins",
                    )
                )  # fmt: skip
            for m in members:
                household[m.mrn] = members
            if rng.random() < 0.1:  # a namesake of the wife, other DOB: a bystander's namesake
                add(Patient(mrn(), b.last, b.first, _random_dob(rng), "F"), "bystander's namesake")
        elif roll < 0.40:  # twins
            sex = rng.choice("FM")
            a = new(last, sex, _random_dob(rng), "twins", identifiers(prefix, 1))
            twin = Patient(
                mrn(f"{int(a.mrn) + 1:08d}" if rng.random() < 0.5 else None), last,
                _other_first(rng, names, a.first), a.dob, rng.choice("FM"), (), identifiers(prefix, 2),
            )  # fmt: skip
            add(twin, "twins")
            household[a.mrn] = household[twin.mrn] = [a, twin]
        elif roll < 0.44:  # namesakes with another DOB
            a = new(last, rng.choice("FM"), _random_dob(rng), "namesake, other dob", identifiers(prefix, 1))
            add(Patient(mrn(), a.last, a.first, _random_dob(rng), a.sex), "namesake, other dob")
        elif roll < 0.48:  # an MRN one misread digit from another patient's
            a = new(last, rng.choice("FM"), _random_dob(rng), "mrn one digit away", identifiers(prefix, 1))
            near = _misread_mrn(rng, a.mrn)
            if near is not None:
                sex = rng.choice("FM")
                add(
                    Patient(mrn(near), surname(), names.first(rng, sex), _random_dob(rng), sex),
                    "mrn one digit away",
                )
        elif roll < 0.50:  # a physician's namesake
            first, staff_last = rng.choice(_STAFF)
            add(Patient(mrn(), staff_last, first, _random_dob(rng), _sex_of(first)), "physician's namesake")
        else:
            new(last, rng.choice("FM"), _random_dob(rng), "plain", identifiers(prefix, 1))
    roster = [p.patient for p in people]
    taken = {(normalize_name(p.last), normalize_name(p.first), p.dob) for p in roster}
    for i in range(size // 8):
        model = rng.choice(roster)
        kind = i % 4
        if kind == 0:
            sex = rng.choice("FM")
            p = Patient(mrn(), surname(), names.first(rng, sex), _random_dob(rng), sex)
            group = "absent: stranger"
        elif kind == 1:
            first = _other_first(rng, names, model.first)
            p = Patient(mrn(), model.last, first, model.dob, _sex_of(first))
            group = "absent: twin of a patient"
        elif kind == 2:
            p = Patient(mrn(), model.last, model.first, _random_dob(rng), model.sex)
            group = "absent: namesake, other dob"
        else:
            sex = rng.choice("FM")
            p = Patient(mrn(), model.last, names.first(rng, sex), _random_dob(rng), sex)
            group = "absent: relative of a patient"
            household[p.mrn] = [p, model]
        if (normalize_name(p.last), normalize_name(p.first), p.dob) not in taken:
            people.append(Person(p, group, in_roster=False))
    return people, household


_MISREAD_PAIRS = (
    ("3", "8"),
    ("1", "7"),
    ("5", "6"),
    ("0", "8"),
    ("8", "3"),
    ("7", "1"),
    ("6", "5"),
    ("8", "0"),
)


def _misread_mrn(rng: random.Random, mrn: str) -> str | None:
    spots = [(i, b) for i, c in enumerate(mrn) for a, b in _MISREAD_PAIRS if c == a]
    if not spots:
        return None
    i, digit = rng.choice(spots)
    return mrn[:i] + digit + mrn[i + 1 :]


def _outside_name(rng: random.Random, p: Patient) -> str:
    """The patient's name as an outside form prints it."""
    first, last = p.first, p.last
    if p.aliases and rng.random() < 0.3:
        last = p.aliases[0].last.title()  # the maiden name
    roll = rng.random()
    if roll < 0.07 and first in _NICKNAMES:
        first = _NICKNAMES[first]
    middle = rng.choice(_MIDDLE) if rng.random() < 0.35 else ""
    initial = f"{middle[0]}." if middle and rng.random() < 0.5 else middle
    suffix = rng.choice(("", "", "", "", "", "", "Jr.", "III", "Sr.")) if p.sex == "M" else ""
    forms = (
        f"{last.upper()}, {first.upper()}{' ' + initial.upper().rstrip('.') if initial else ''}",
        f"{first}{' ' + initial if initial else ''} {last}{' ' + suffix if suffix else ''}",
        f"{last}, {first}{' ' + middle if middle else ''}",
        f"{first.upper()} {last.upper()}{' ' + suffix.upper() if suffix else ''}",
        f"{last.upper()}{' ' + suffix.upper().rstrip('.') if suffix else ''}, {first.upper()}",
    )
    return rng.choice(forms)


def _outside_dob(rng: random.Random, d: dt.date) -> str:
    month = d.strftime("%b")
    choices = [
        f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.month}/{d.day}/{d.year % 100:02d}", d.isoformat(),
        f"{d.day} {month} {d.year}", f"{month}-{d.day:02d}-{d.year}", f"{d.strftime('%B')} {d.day}, {d.year}",
        f"{d.day:02d}-{month.upper()}-{d.year}", f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{d.month}-{d.day}-{d.year}",
    ]  # fmt: skip
    if d.day > 12:
        choices.append(f"{d.day}/{d.month:02d}/{d.year}")  # day first, unambiguous
    text = rng.choice(choices)
    if rng.random() < 0.05:  # a 1 read as l
        text = text.replace("1", "l", 1)
    return text


_DOB_LABELS = ("DOB", "D.O.B.", "Date of Birth", "Birth Date", "Birthdate", "Born", "B/D", "Birth dt", "DOB")


def _staff(rng: random.Random) -> str:
    first, last = rng.choice(_STAFF)
    return rng.choice((f"Dr. {first} {last}", f"{first} {last}, MD", f"{last.upper()}, {first.upper()} MD"))


def make_outside_document(
    rng: random.Random, person: Person, roster: Sequence[Patient], household: dict[str, list[Patient]]
) -> OutsideDoc:
    p = person.patient
    name = _outside_name(rng, p)
    dob = _outside_dob(rng, p.dob)
    dob_label = rng.choice(_DOB_LABELS)
    mrn_line = (
        f"{rng.choice(_MRN_LABELS)} {_mrn_text(rng, _printed_mrn(rng, p))}" if rng.random() < 0.4 else ""
    )
    relatives = [m for m in household.get(p.mrn, ()) if m.mrn != p.mrn]

    def bystander() -> tuple[Patient, bool]:
        """Someone else: a relative (often on the roster), or any roster patient, or a stranger."""
        if relatives and rng.random() < 0.6:
            return rng.choice(relatives), True
        if rng.random() < 0.7:
            return rng.choice(roster), True
        return Patient("", p.last, rng.choice(_FEMALE + _MALE), _random_dob(rng)), False

    others: list[str] = []
    on_roster = False

    def other(kind: str) -> Patient:
        nonlocal on_roster
        b, known = bystander()
        others.append(kind)
        on_roster = on_roster or known
        return b

    head = rng.choice(
        (
            "Lakeview Family Medicine  |  220 Harbor Rd, Portland, ME 04101  |  Fax (207) 555-0188\n",
            "ST. BRIGID SKILLED NURSING & REHAB\n",
            "Northside Behavioral Health Associates\n",
            "FAX  From: 5035550199  To: Records  10:42  Page 1/3\nValley Orthopedics\n",
            "",
        )
    )
    want_bystanders = rng.random() < 0.6
    form = rng.choices(
        (
            "clinic note", "insurance card", "resident form", "intake (client)", "workers' comp",
            "pediatric", "consult letter", "label sticker", "registration", "pharmacy", "insurer letter",
            "consent", "existing wording",
        ),
        weights=(12, 9, 7, 7, 6, 7, 10, 8, 9, 6, 6, 6, 7),
    )[0]  # fmt: skip
    name_label = ""
    body = _body(rng, rng.randint(2, 5))
    sex = f"   Sex: {p.sex}" if rng.random() < 0.3 else ""
    lines: list[str] = []
    if form == "clinic note":
        name_label = rng.choice(("Patient", "Pt", "Pt Name", "Patient Name", "Name", "Name of Patient"))
        lines = [f"OFFICE VISIT\n{name_label}: {name}   {dob_label}: {dob}{sex}", mrn_line, body]
        if want_bystanders:
            lines.append(f"Referring Physician: {_staff(rng)}")
            others.append("referring physician")
        lines.append(f"Electronically signed by: {_staff(rng)}")
        others.append("signing physician")
    elif form == "insurance card":
        dependent = relatives and rng.random() < 0.5
        member_id = _member_id(rng, p)
        if dependent:
            sub = other("subscriber")
            name_label = rng.choice(("Member", "Dependent", "Member Name"))
            lines = [
                "BlueHarbor Health PPO", f"Subscriber: {sub.first.upper()} {sub.last.upper()}",
                f"Subscriber ID: {_member_id(rng, sub)}", f"{name_label}: {name}", f"Member ID: {member_id}",
            ]  # fmt: skip
            if rng.random() < 0.4:
                lines.insert(2, f"Subscriber DOB: {_outside_dob(rng, sub.dob)}")
            if rng.random() < 0.7:
                lines.append(f"{dob_label}: {dob}")
            else:
                dob_label = ""
        else:
            name_label = rng.choice(("Member", "Member Name", "Subscriber", "Insured", "Name"))
            lines = [
                "Coastal Care HMO",
                f"{name_label}: {name}",
                f"Member ID: {member_id}   Group #: 88{rng.randrange(1000):03d}",
            ]
            if rng.random() < 0.7:
                lines.append(f"{dob_label}: {dob}")
            else:
                dob_label = ""
        lines.append("Copay PCP $25  Specialist $50  Rx BIN 610014")
    elif form == "resident form":
        name_label = rng.choice(("Resident", "Resident Name"))
        lines = [f"{name_label}: {name}   Room 214B", f"{dob_label}: {dob}", mrn_line, body]
        if want_bystanders:
            b = other("responsible party")
            lines.append(f"Responsible Party: {b.first} {b.last} (son)   Phone: (207) 555-0143")
            lines.append(f"Attending: {_staff(rng)}")
            others.append("attending physician")
    elif form == "intake (client)":
        name_label = rng.choice(("Client", "Client Name"))
        lines = [f"INTAKE ASSESSMENT\n{name_label}: {name}", f"{dob_label}: {dob}{sex}", mrn_line, body]
        if want_bystanders:
            b = other("emergency contact")
            lines.append(f"Emergency Contact: {b.first} {b.last}, spouse   (503) 555-0177")
    elif form == "workers' comp":
        name_label = rng.choice(("Employee", "Claimant", "Employee Name"))
        lines = [
            f"FIRST REPORT OF INJURY\n{name_label}: {name}   Claim #: WC-{rng.randrange(10**6)}",
            f"{dob_label}: {dob}",
        ]
        lines += [mrn_line, "Employer: Harbor Freight Logistics", body]
        if want_bystanders:
            lines.append(f"Treating Physician: {_staff(rng)}")
            others.append("treating physician")
    elif form == "pediatric":
        name_label = rng.choice(("Child's Name", "Patient"))
        lines = [f"WELL CHILD VISIT\n{name_label}: {name}", f"{dob_label}: {dob}", mrn_line, body]
        if want_bystanders:
            b = other("parent/guardian")
            bdob = _outside_dob(rng, b.dob)
            lines.append(f"Parent/Guardian: {b.first} {b.last}   {rng.choice(_DOB_LABELS)}: {bdob}")
    elif form == "consult letter":
        first_last = f"{p.first} {p.last}"
        dr = rng.choice(_STAFF)
        others.append("addressee physician")
        if rng.random() < 0.5:
            name_label = "letter"
            lines = [
                f"Dear Dr. {dr[1]},", "",
                f"I saw your patient {first_last} ({dob_label} {dob}) in consultation today. {body}",
            ]  # fmt: skip
        else:
            name_label = rng.choice(("Re", "Regarding", "RE"))
            lines = [f"Dear Dr. {dr[1]},", f"{name_label}: {name}   {dob_label}: {dob}", mrn_line, "", body]
        lines.append(f"Sincerely,\n{_staff(rng)}")
        if want_bystanders:
            lines.append(f"cc: {_staff(rng)}")
    elif form == "label sticker":
        name_label = "label sticker"
        printed = _printed_mrn(rng, p)
        lines = [
            "LABORATORY REQUISITION",
            f"{p.last.upper()}, {p.first.upper()}"
            + (f" {rng.choice('ABCDEJKLMRST')}" if rng.random() < 0.4 else ""),
            f"MRN: {printed}   {dob_label}: {dob}   {'F' if p.sex == 'F' else 'M'}",
        ]
        if rng.random() < 0.5:
            acct = next((v for k, v in p.identifiers if k == "account"), f"{rng.randrange(10**9):09d}")
            lines.append(f"ACCT: {acct}")
        if want_bystanders:
            lines.append(f"ATT: {_staff(rng)}")
            others.append("attending physician")
        lines.append(body)
    elif form == "registration" and want_bystanders and rng.random() < 0.5:  # blocks, the guarantor first
        name_label = "Name"
        g = other("guarantor")
        lines = [
            "GUARANTOR INFORMATION", f"Name: {g.last}, {g.first}",
            f"{rng.choice(_DOB_LABELS)}: {_outside_dob(rng, g.dob)}", "Phone: (360) 555-0110", "",
            "PATIENT INFORMATION", f"Name: {name}", f"{dob_label}: {dob}{sex}", mrn_line,
        ]  # fmt: skip
        if rng.random() < 0.5:
            s = other("spouse")
            lines.append(f"Spouse Name: {s.first} {s.last}   Spouse DOB: {_outside_dob(rng, s.dob)}")
    elif form == "registration":
        name_label = "Name of Patient"
        lines = [f"REGISTRATION\nName of Patient: {name}", f"{dob_label}: {dob}{sex}", mrn_line]
        if want_bystanders:
            g = other("guarantor")
            lines.append(f"Guarantor: {g.first} {g.last}   Guarantor DOB: {_outside_dob(rng, g.dob)}")
            if rng.random() < 0.5:
                s = other("spouse")
                lines.append(f"Spouse: {s.last.upper()}, {s.first.upper()}")
            if rng.random() < 0.5:
                k = other("next of kin")
                lines.append(f"Next of Kin\nName: {k.first} {k.last}   Phone: (541) 555-0102")
    elif form == "pharmacy":
        name_label = "Patient Name"
        lines = [f"PRESCRIPTION RECORD\nPatient Name: {name}   {dob_label}: {dob}", mrn_line, body]
        lines.append(f"Prescriber: {_staff(rng)}")
        others.append("prescriber")
        if want_bystanders:
            lines.append(f"Pharmacist: {rng.choice(_STAFF)[0]} {rng.choice(_STAFF)[1]}, RPh")
            others.append("pharmacist")
    elif form == "insurer letter":
        name_label = "Regarding"
        lines = [f"PRIOR AUTHORIZATION DETERMINATION\nRegarding: {name}   {dob_label}: {dob}"]
        if want_bystanders:
            b = other("insured")
            lines.append(f"Insured: {b.first} {b.last}   Member ID: {_member_id(rng, b)}")
        lines.append(body)
    elif form == "consent":
        name_label = rng.choice(("Patient", "Patient Name"))
        lines = [f"CONSENT FOR PROCEDURE\n{name_label}: {name}   {dob_label}: {dob}", mrn_line, body]
        if want_bystanders:
            w = other("witness")
            lines.append(f"Witness: {w.first} {w.last}   Interpreter: {rng.choice(_STAFF)[0]} Ivanova")
            others.append("interpreter")
    else:  # the earlier families' wording, with other people on the page
        name_label = rng.choice(("Patient", "Name", "PATIENT NAME"))
        lines = [f"PROGRESS NOTE\n{name_label}: {name}   {dob_label}: {dob}{sex}", mrn_line, body]
        if want_bystanders:
            b = other("emergency contact")
            lines.append(f"Emergency Contact\nName: {b.first} {b.last}   Phone: (541) 555-0134")
    text = head + "\n".join(line for line in lines if line)
    dob_kind = dob_label or "none"
    roll = rng.random()
    damage = "none" if roll < 0.7 else "light" if roll < 0.9 else "heavy"
    if damage != "none":
        text = ocr_damage(text, rng, 0.01 if damage == "light" else 0.04)
    return OutsideDoc(text, person, form, name_label, dob_kind, tuple(others), on_roster, damage)


def _printed_mrn(rng: random.Random, p: Patient) -> str:
    """The patient's MRN, or now and then the previous one (before a merge) when there is one."""
    previous = [v for k, v in p.identifiers if k == "previous_mrn"]
    return previous[0] if previous and rng.random() < 0.7 else p.mrn


def _member_id(rng: random.Random, p: Patient) -> str:
    ids = [v for k, v in p.identifiers if k == "member_id"]
    return ids[0] if ids else f"{rng.choice('WXYZ')}{rng.randrange(10**9):09d}"


def evaluate_outside(docs: Sequence[OutsideDoc], roster: Roster, label: str, detail: bool = True) -> None:
    """Filing outcomes of the held-out family; with ``detail``, per form, label kind, other person
    on the page, roster group and OCR damage, and why documents went to review."""
    overall_in, overall_out, full, with_known = Tally(), Tally(), Tally(), Tally()
    tables: dict[str, dict[str, Tally]] = {
        k: {} for k in ("form", "name label", "dob label", "other person", "roster group", "damage")
    }
    misfiles: list[str] = []
    for doc in docs:
        ids = extract_identifiers(doc.text, today=TODAY)
        match = match_patient(ids, roster, SETTINGS)
        plain = Doc(doc.text, doc.person, doc.form, doc.damage)
        (overall_in if doc.person.in_roster else overall_out).add(plain, match)
        if doc.bystander_on_roster:
            with_known.add(plain, match)
        if doc.person.in_roster:
            if doc.full_name_and_dob:
                full.add(plain, match)
            keys = {
                "form": [doc.form], "name label": [doc.name_label], "dob label": [doc.dob_label],
                "other person": list(dict.fromkeys(doc.bystanders)) or ["none"],
                "roster group": [doc.person.group], "damage": [doc.damage],
            }  # fmt: skip
            for table, values in keys.items():
                for value in values:
                    tables[table].setdefault(value, Tally()).add(plain, match)
        if match.mrn is not None and not (
            doc.person.in_roster and normalize_mrn(match.mrn) == normalize_mrn(doc.person.patient.mrn)
        ):
            misfiles.append(f"{doc.form}/{doc.name_label}/{doc.person.group}/{doc.damage}: {match.reason}")
    everyone = overall_in.total + overall_out.total
    print(f"\n== {label}")
    print(f"  misfiles: {overall_in.misfiled + overall_out.misfiled} (of {everyone} documents)")
    print(
        "  auto-file rate, documents of patients in the roster: "
        f"{100 * overall_in.filed / max(1, overall_in.total):.1f}%"
    )
    print(
        f"  auto-file rate, those carrying the patient's full name and birth date: "
        f"{100 * full.filed / max(1, full.total):.1f}% ({full.filed}/{full.total})"
    )
    print(f"  review rate, all documents: {100 * (overall_in.review + overall_out.review) / everyone:.1f}%")
    print(overall_in.line("patients in the roster"))
    print(overall_out.line("patients absent from the roster"))
    print(with_known.line("another roster patient named"))
    for m in misfiles[:20]:
        print(f"    MISFILE {m}")
    if not detail:
        return
    for table, rows in tables.items():
        print(f" in-roster documents by {table}:")
        for key in sorted(rows):
            print(rows[key].line(key))
    print(" why in-roster documents went to review:")
    for reason, count in overall_in.reasons.most_common():
        print(f"    {count:>5}  {reason}")
    print(" why absent patients' documents went to review:")
    for reason, count in overall_out.reasons.most_common():
        print(f"    {count:>5}  {reason}")


def run_outside(args: argparse.Namespace, names: NamePool) -> None:
    rng = random.Random(f"outside:{args.seed}")
    mrn = MrnSource(rng)
    people, household = build_outside_people(rng, names, mrn, args.outside_patients)
    in_roster = [p for p in people if p.in_roster]
    absent = [p for p in people if not p.in_roster]
    roster_patients = [p.patient for p in in_roster]
    print(f"\nheld-out family (outside paperwork): roster of {len(in_roster)} patients: ", end="")
    print(_counts(p.group for p in in_roster))
    kinds = Counter(k for p in roster_patients for k in dict.fromkeys(k for k, _ in p.identifiers))
    print(
        f"  with member IDs {kinds['member_id']}, account numbers {kinds['account']}, previous MRNs "
        f"{kinds['previous_mrn']}, former names {sum(bool(p.aliases) for p in roster_patients)}"
    )
    print(f"  absent from the roster: {len(absent)} people: {_counts(p.group for p in absent)}")
    doc_rng = random.Random(f"outside-docs:{args.seed}")
    docs = [
        make_outside_document(
            doc_rng, doc_rng.choice(absent) if doc_rng.random() < 0.12 else doc_rng.choice(in_roster),
            roster_patients, household,
        )
        for _ in range(args.outside_docs)
    ]  # fmt: skip
    print(f"  documents: {len(docs)}: {_counts(d.form for d in docs)}")
    mrn_labels = ("MRN", "Med Rec", "Chart #", "MR#", "Medical Record")
    print(
        f"  with another person named: {sum(bool(d.bystanders) for d in docs)}, of them a roster patient: "
        f"{sum(d.bystander_on_roster for d in docs)}; MRN printed: "
        f"{sum(any(label in d.text for label in mrn_labels) for d in docs)}"
    )
    evaluate_outside(
        docs,
        MemoryRoster(roster_patients),
        f"held-out family: roster of {len(in_roster):,} patients (in memory)",
    )
    with tempfile.TemporaryDirectory(prefix="chartclerk-bench-outside-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"archive: {Path(tmp) / 'archive'}\ninbox: {Path(tmp) / 'inbox'}\n", encoding="utf-8"
        )
        archive = Archive.open(load_settings(config))
        try:
            archive.import_patients(roster_patients)
            evaluate_outside(
                docs, archive.roster, "held-out family: the same roster in a SQLite archive", detail=False
            )
        finally:
            archive.close()


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
    parser.add_argument(
        "--family", choices=("all", "earlier", "outside"), default="all",
        help="which documents: the earlier families, the held-out outside paperwork, or both",
    )  # fmt: skip
    parser.add_argument("--outside-patients", type=int, default=3000, help="roster of the held-out family")
    parser.add_argument("--outside-docs", type=int, default=4000, help="documents of the held-out family")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.family != "earlier":
        run_outside(args, NamePool(random.Random(f"outside-names:{args.seed}")))
        if args.family == "outside":
            return

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
