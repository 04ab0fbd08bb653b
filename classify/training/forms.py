"""The training corpus: synthetic paperwork of the 13 document types, deterministic by seed.

Every document is drawn from the *training template family*: for each type a pool of
titles and synonyms, section headings with their variants, sentence templates with slots
(diagnoses, medications, procedures, analytes, exams, payers...), shared clinical filler,
and random facilities, people, dates and layouts. Sections are picked and shuffled,
lengths vary from a few lines to two pages, and about one document in six has no title
line at all, so the model must learn the body as well as the title.

The wording lives in data files, ``templates/forms/<doc_type>.yaml`` (titles, headings,
field labels, values and sentences of one type) and ``templates/forms/pools.yaml`` (names,
places, diagnoses, drugs, analytes, exams, payers, and the header and footer pieces); this
module keeps the procedures that pick, shuffle and assemble (and the number formats:
dates, phones, amounts, IDs). In the files a list is a set of alternatives, in order (the
order is part of what a seed gives); a plain string is fixed wording; a mapping of labels
(an exam's systems) gives each label a fixed value or a list to draw from. A string may
name slots: the slots each list may use are declared in ``_SLOTS`` below. A slot is either
the document's own value (``{dx}``, ``{first}``) or drawn where it appears (``{doctor}``,
``{phone}``: a second one is another person or number), and every alternative of a list
is filled before one is picked, as the code this replaced did, so new wording that uses
the declared slots needs no code. Editing a file changes the documents its seeds give,
and so the corpus ``make model`` writes; the shipped model was built from them as they are.

``bench/classify.py`` measures on a *separate* family (its own titles, headings,
sentences and layouts, written apart from these files and from ``tests/scans.py``).

All randomness comes from ``random.Random(f"{doc_type}:{seed}")``: a (type, seed) pair
always gives the same document, which is what makes ``make model`` reproducible.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.training.render import Block, Layout, random_layout, text_of
from chartclerk.errors import ModelError

__all__ = ["CorpusDoc", "data_files", "generate_document", "ocr_noise", "template_slots"]

NO_TITLE_SHARE: Final = 0.17
_SLOT: Final = re.compile(r"\{([A-Za-z_]+)\}")


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    doc_type: str
    seed: int
    blocks: tuple[Block, ...]
    layout: Layout
    titled: bool

    @property
    def text(self) -> str:
        return text_of(self.blocks)


# --------------------------------------------------------------------------- the data files


def data_files() -> tuple[str, ...]:
    """The data files' names, without ``.yaml``: ``pools`` and one per document type."""
    return ("pools", *DOC_TYPES)


@cache
def _read(name: str) -> dict[str, Any]:
    path = f"templates/forms/{name}.yaml"
    try:
        text = resources.files("chartclerk.classify.training").joinpath(path).read_text("utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise ModelError(f"cannot read training template {path} ({type(e).__name__})") from e
    if not isinstance(data, dict):
        raise ModelError(f"training template {path} is not a mapping")
    return data


def _lookup(name: str, path: tuple[str, ...]) -> Any:
    node: Any = _read(name)
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise ModelError(f"training template forms/{name}.yaml has no {'.'.join(path)}")
        node = node[part]
    return node


@cache
def _words(name: str, path: tuple[str, ...]) -> tuple[str, ...]:
    node = _lookup(name, path)
    if not isinstance(node, list) or not node or not all(isinstance(s, str) for s in node):
        raise ModelError(f"forms/{name}.yaml: {'.'.join(path)} must be a list of strings")
    return tuple(node)


@cache
def _rows(name: str, path: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    node = _lookup(name, path)
    if not isinstance(node, list) or not node or not all(isinstance(r, list) for r in node):
        raise ModelError(f"forms/{name}.yaml: {'.'.join(path)} must be a list of rows")
    return tuple(tuple(r) for r in node)


@cache
def _text(name: str, path: tuple[str, ...]) -> str:
    node = _lookup(name, path)
    if not isinstance(node, str):
        raise ModelError(f"forms/{name}.yaml: {'.'.join(path)} must be a string")
    return node


@cache
def _mapping(name: str, path: tuple[str, ...]) -> tuple[tuple[str, str | tuple[str, ...]], ...]:
    node = _lookup(name, path)
    ok = isinstance(node, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(s, str) for s in v))
        for v in node.values()
    )
    if not ok:
        raise ModelError(f"forms/{name}.yaml: {'.'.join(path)} must map labels to a string or strings")
    return tuple((str(k), v if isinstance(v, str) else tuple(v)) for k, v in node.items())


class _Texts:
    """The wording of one data file: ``_HP("cc", "heading")`` is a tuple of alternatives."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *path: str) -> tuple[str, ...]:
        return _words(self.name, path)

    def text(self, *path: str) -> str:
        return _text(self.name, path)

    def rows(self, *path: str) -> tuple[tuple[Any, ...], ...]:
        return _rows(self.name, path)

    def fields(self, *path: str) -> tuple[tuple[str, str | tuple[str, ...]], ...]:
        return _mapping(self.name, path)


_POOL: Final = _Texts("pools")
_FACE: Final = _Texts("face_sheet")
_HP: Final = _Texts("history_physical")
_PROGRESS: Final = _Texts("progress_note")
_CONSULT: Final = _Texts("consult_note")
_DISCHARGE: Final = _Texts("discharge_summary")
_OPERATIVE: Final = _Texts("operative_report")
_LAB: Final = _Texts("lab_report")
_RADIOLOGY: Final = _Texts("radiology_report")
_REFERRAL: Final = _Texts("referral")
_CONSENT: Final = _Texts("consent_form")
_RX: Final = _Texts("prescription")
_INSURANCE: Final = _Texts("insurance")
_OTHER: Final = _Texts("other")


# The slots each list of the data files may name, by "file:path". A list not named here
# takes no slots. Every alternative of a list is filled (each slot drawn where it appears,
# left to right) before one of them is picked.
_SLOTS: Final[dict[str, frozenset[str]]] = {
    key: frozenset(names.split())
    for key, names in {
        "pools:doctor": "name",
        "pools:diagnosis": "name Name code",
        "pools:medication_line": "name Name NAME dose sig",
        "pools:sigs": "form",
        "pools:vitals": "systolic diastolic pulse respirations temperature saturation fahrenheit",
        "pools:contact": "phone",
        "pools:footer": "doctor next_day day_after time pages user",
        "history_physical:psh.text": "procedure year",
        "operative_report:indication": "dx",
        "consult_note:why.text": "dx",
        "consult_note:intro": "requester dx age",
        "discharge_summary:procs.text": "procedure other_procedure",
        "discharge_summary:fu.text": "doctor specialty",
        "radiology_report:hist.value": "diagnosis",
        "radiology_report:comp.value": "long_ago prior_date",
        "radiology_report:impression.text": "finding",
        "radiology_report:sign": "doctor",
        "referral:note.to": "specialist specialty",
        "referral:note.from": "doctor",
        "referral:note.ask": "first last dx",
        "referral:note.booking": "urgency",
        "referral:letter.opening": "first last dx specialty",
        "consent_form:release.opening": "first last facility other_facility",
        "consent_form:surgery.opening": "first last doctor procedure",
        "prescription:drug": "name Name NAME dose form",
        "prescription:dispense.value": "count thirty_or_ninety in_words units form",
        "other:fax.to": "doctor facility",
        "other:fax.from": "doctor facility",
        "other:reminder.text": "in_a_week in_ten_days time doctor",
        "other:reminder.reschedule": "phone",
        "other:letter.greeting": "first last",
        "other:announcement.greeting": "first",
    }.items()
}

Slot = str | Callable[[], str]


def template_slots() -> Mapping[str, frozenset[str]]:
    """The slots each templated list may name, by ``"<file>:<dotted path>"``."""
    return _SLOTS


def _fill(template: str, slots: Mapping[str, Slot], where: str) -> str:
    def value(m: re.Match[str]) -> str:
        slot = slots.get(m.group(1))
        if slot is None:
            raise ModelError(f"training template {where} names an unknown slot {m.group(0)}")
        return slot if isinstance(slot, str) else slot()

    return _SLOT.sub(value, template)


def _checked(texts: _Texts, path: tuple[str, ...], slots: Mapping[str, Slot]) -> str:
    where = f"{texts.name}:{'.'.join(path)}"
    if frozenset(slots) != _SLOTS.get(where, frozenset()):
        raise ModelError(f"training template {where}: the code fills {sorted(slots)}, not its slots")
    return where


class _Gen:
    """Random draws for one document."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.patient = (rng.choice(_POOL("last_names")), rng.choice(_POOL("first_names")))
        self.mrn = "".join(rng.choice("0123456789") for _ in range(rng.choice((6, 7, 8))))
        self.dob = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randint(0, 30000))
        self.day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(0, 1400))
        self.sex = rng.choice("FM")

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def some(self, options: Sequence[str], low: int, high: int) -> list[str]:
        return self.rng.sample(list(options), min(len(options), self.rng.randint(low, high)))

    def filled(self, texts: _Texts, *path: str, **slots: Slot) -> list[str]:
        """Every alternative of a templated list, its slots filled in order."""
        where = _checked(texts, path, slots)
        return [_fill(t, slots, where) for t in texts(*path)]

    def write(self, texts: _Texts, *path: str, **slots: Slot) -> str:
        """A single templated string, filled."""
        return _fill(texts.text(*path), slots, _checked(texts, path, slots))

    def say(self, texts: _Texts, *path: str, **slots: Slot) -> str:
        """One alternative of a templated list, filled."""
        return self.pick(self.filled(texts, *path, **slots))

    def number(self, low: int, high: int) -> Callable[[], str]:
        return lambda: str(self.rng.randint(low, high))

    def date(self, offset: int = 0) -> str:
        d = self.day + dt.timedelta(days=offset)
        style = self.rng.randrange(4)
        if style == 0:
            return f"{d.month:02d}/{d.day:02d}/{d.year}"
        if style == 1:
            return d.isoformat()
        if style == 2:
            return d.strftime("%B %d, %Y").replace(" 0", " ")
        return f"{d.month}/{d.day}/{d.year % 100:02d}"

    def time(self) -> str:
        return f"{self.rng.randint(0, 23):02d}:{self.rng.choice(('00', '15', '30', '45', '10', '52'))}"

    def person(self) -> str:
        return f"{self.pick(_POOL('first_names'))} {self.pick(_POOL('last_names'))}"

    def doctor(self) -> str:
        return self.say(_POOL, "doctor", name=self.person())

    def diagnosis(self) -> str:
        name, code = self.rng.choice(_POOL.rows("diagnoses"))
        return self.say(_POOL, "diagnosis", name=name, Name=name.capitalize(), code=code)

    def med(self) -> tuple[str, str, str]:
        name, dose, form = self.rng.choice(_POOL.rows("medications"))
        return name, dose, form

    def sig(self, form: str) -> str:
        return _fill(self.pick(_POOL("sigs")), {"form": form}, "pools:sigs")

    def med_line(self) -> str:
        name, dose, form = self.med()
        sig = self.sig(form)
        return self.say(
            _POOL, "medication_line", name=name, Name=name.capitalize(), NAME=name.upper(), dose=dose, sig=sig
        )

    def procedure(self) -> str:
        return self.pick(_POOL("procedures"))

    def vitals(self) -> str:
        return self.say(
            _POOL,
            "vitals",
            systolic=self.number(100, 170),
            diastolic=self.number(55, 100),
            pulse=self.number(55, 115),
            respirations=self.number(12, 24),
            temperature=lambda: self.pick(_POOL("temperatures")),
            saturation=self.number(89, 100),
            fahrenheit=lambda: self.pick(_POOL("fahrenheit")),
        )

    def facility(self) -> tuple[str, str]:
        name = f"{self.pick(_POOL('places'))} {self.pick(_POOL('facility_kinds'))}"
        city, state = self.rng.choice(_POOL.rows("cities"))
        street = f"{self.rng.randint(10, 9999)} {self.pick(_POOL('streets'))}"
        address = f"{street}, {city}, {state} {self.rng.randint(10000, 99999)}"
        return name, address

    def phone(self) -> str:
        return f"({self.rng.randint(200, 989)}) {self.rng.randint(200, 989)}-{self.rng.randint(1000, 9999)}"


def _p(text: str) -> Block:
    return Block("para", (text,))


def _h(text: str) -> Block:
    return Block("heading", (text,))


def _f(label: str, value: str) -> Block:
    return Block("field", (label, value))


def _row(*cells: str) -> Block:
    return Block("row", cells)


def _fields(g: _Gen, texts: _Texts, *path: str) -> list[tuple[str, str]]:
    """A mapping of labels to a fixed value or a list of alternatives, one drawn per label."""
    return [(k, v if isinstance(v, str) else g.pick(v)) for k, v in texts.fields(*path)]


def _sentences(g: _Gen, pool: Sequence[str], low: int, high: int) -> str:
    return " ".join(g.some(pool, low, high))


# --------------------------------------------------------------------------- header and footer


def _title_variant(g: _Gen, title: str) -> str:
    style = g.rng.randrange(4)
    if style == 0:
        return title.upper()
    if style == 1:
        return title.title() if title.islower() else title
    return title


def _header(g: _Gen, doc_type: str, titled: bool) -> list[Block]:
    name, address = g.facility()
    blocks = [Block("letterhead", (name,))]
    contact = g.say(_POOL, "contact", phone=g.phone)
    blocks.append(Block("address", (g.pick((f"{address}   {contact}", address)),)))
    if g.chance(0.3):
        blocks.append(Block("address", (g.pick(_POOL("department")) + g.pick(_POOL("specialties")),)))
    title = _title_variant(g, _TITLE_MAKERS[doc_type](g)) if titled else None
    banner = _banner(g)
    if title and g.chance(0.8):
        blocks.append(Block("title", (title,)))
        blocks.extend(banner)
    else:
        blocks.extend(banner)
        if title:
            blocks.append(Block("title", (title,)))
    blocks.append(Block("blank", ("",)))
    return blocks


def _banner(g: _Gen) -> list[Block]:
    last, first = g.patient
    dob = f"{g.dob.month:02d}/{g.dob.day:02d}/{g.dob.year}"
    variant = g.rng.randrange(6)
    if variant == 0:
        return [Block("banner", (f"Patient: {last.upper()}, {first.upper()}   MRN: {g.mrn}   DOB: {dob}",))]
    if variant == 1:
        return [_f("Patient Name", f"{first} {last}"), _f("Date of Birth", dob), _f("MRN", g.mrn)]
    if variant == 2:
        return [
            Block("banner", (f"Name: {last}, {first}  DOB: {g.dob.isoformat()}  Sex: {g.sex}  MR#: {g.mrn}",))
        ]
    if variant == 3:
        return [Block("banner", (f"{last.upper()}, {first.upper()}  |  {g.mrn}  |  {dob}  |  {g.sex}",))]
    if variant == 4:
        return [
            _f("Patient", f"{last}, {first}"),
            _f("Acct #", str(g.rng.randint(10**6, 10**8))),
            _f("DOB", dob),
        ]
    return [Block("banner", (f"RE: {first} {last}   DOB {dob}   Chart # {g.mrn}",))]


def _footer(g: _Gen) -> list[Block]:
    options = g.filled(
        _POOL,
        "footer",
        doctor=g.doctor,
        next_day=lambda: g.date(1),
        day_after=lambda: g.date(2),
        time=g.time,
        pages=g.number(1, 3),
        user=lambda: f"{g.pick(_POOL('first_names')).lower()}{g.rng.randint(1, 99)}",
    )
    return [Block("blank", ("",))] + [_p(t) for t in g.some(options, 0, 2) if t]


# --------------------------------------------------------------------------- titles


def _plain_title(doc_type: str) -> Callable[[_Gen], str]:
    return lambda g: g.pick(_words(doc_type, ("titles",)))


_TITLE_MAKERS: Final[dict[str, Callable[[_Gen], str]]] = {t: _plain_title(t) for t in DOC_TYPES} | {
    "consult_note": lambda g: (
        g.pick(_CONSULT("titles"))
        if g.chance(0.6)
        else f"{g.pick(_POOL('specialties'))} {g.pick(_CONSULT('specialty_titles'))}"
    ),
    "lab_report": lambda g: g.pick(_LAB("titles")) if g.chance(0.7) else g.pick(_POOL("panels")),
    "radiology_report": lambda g: (
        g.pick(_RADIOLOGY("titles")) if g.chance(0.7) else str(g.rng.choice(_POOL.rows("exams"))[0]).upper()
    ),
}


# --------------------------------------------------------------------------- bodies


def _face_sheet_grid(g: _Gen) -> list[Block]:
    """Registration systems' printouts: a grid of abbreviated labels, two pairs a row."""
    last, first = g.patient
    city, state = g.rng.choice(_POOL.rows("cities"))

    def label(key: str) -> str:
        return g.pick(_FACE("grid", "labels", key))

    def value(key: str) -> str:
        return g.pick(_FACE("grid", "values", key))

    pairs = [
        (label("name"), f"{last.upper()}, {first.upper()}"),
        (label("address"), f"{g.rng.randint(10, 9999)} {g.pick(_POOL('streets')).upper()}"),
        (label("city"), f"{city.upper()} {state} {g.rng.randint(10000, 99999)}"),
        (label("phone"), g.phone()),
        (label("sex"), g.sex),
        (label("marital"), value("marital")),
        (label("religion"), value("religion")),
        (label("race"), value("race")),
        (label("employer"), value("employer")),
        (label("next_of_kin"), g.person().upper()),
        (label("relation"), value("relation")),
        (label("contact_phone"), g.phone()),
        (label("guarantor"), g.pick((*_FACE("grid", "values", "guarantor"), g.person().upper()))),
        (label("primary_insurance"), g.pick(_POOL("payers")).upper()),
        (label("policy"), f"{g.rng.randint(10**7, 10**9)}"),
        (
            label("secondary_insurance"),
            g.pick((*_FACE("grid", "values", "no_insurance"), *_POOL("payers"))).upper(),
        ),
        (label("account"), str(g.rng.randint(10**6, 10**9))),
        (label("admitted"), g.date()),
        (label("patient_type"), value("patient_type")),
        (label("source"), value("source")),
        (label("bed"), f"{g.rng.randint(2, 9)}W-{g.rng.randint(1, 40)}"),
        (label("attending"), g.doctor().upper()),
        (label("pcp"), g.doctor().upper()),
        (label("reason"), g.diagnosis().upper()),
    ]
    chosen = [pairs[0], *g.rng.sample(pairs[1:], g.rng.randint(10, len(pairs) - 1))]
    rows = [_row(a, b, c, d) for (a, b), (c, d) in zip(chosen[::2], chosen[1::2], strict=False)]
    if g.chance(0.5):
        rows.insert(0, _h(g.pick(_FACE("grid", "headings"))))
    return rows


def _face_sheet(g: _Gen) -> list[Block]:
    if g.chance(0.35):
        return _face_sheet_grid(g)
    last, first = g.patient
    city, state = g.rng.choice(_POOL.rows("cities"))
    sections: list[list[Block]] = [
        [
            _h(g.pick(_FACE("patient", "heading"))),
            _f("Name", f"{last}, {first}"),
            _f("Address", f"{g.rng.randint(10, 9999)} {g.pick(_POOL('streets'))}"),
            _f("City/State/Zip", f"{city}, {state} {g.rng.randint(10000, 99999)}"),
            _f(g.pick(_FACE("patient", "phone_label")), g.phone()),
            _f("Sex", g.sex),
            _f("Marital Status", g.pick(_FACE("patient", "marital"))),
            *g.rng.sample(
                [
                    _f("Race", g.pick(_FACE("patient", "race"))),
                    _f("Ethnicity", g.pick(_FACE("patient", "ethnicity"))),
                    _f(g.pick(_FACE("patient", "language_label")), g.pick(_FACE("patient", "language"))),
                    _f("Religion", g.pick(_FACE("patient", "religion"))),
                    _f("SSN", f"XXX-XX-{g.rng.randint(1000, 9999)}"),
                    _f("Email", f"{first.lower()}.{last.lower()}@example.com"),
                ],
                g.rng.randint(2, 5),
            ),
        ],
        [
            _h(g.pick(_FACE("contact", "heading"))),
            _f("Name", g.person()),
            _f("Relationship", g.pick(_FACE("contact", "relationship"))),
            _f("Phone", g.phone()),
        ],
        [
            _h(g.pick(_FACE("guarantor", "heading"))),
            _f("Guarantor", g.pick((*_FACE("guarantor", "self"), g.person()))),
            _f("Employer", g.pick(_FACE("guarantor", "employer"))),
            _f("Guarantor Phone", g.phone()),
        ],
        [
            _h(g.pick(_FACE("insurance", "heading"))),
            _f("Primary Insurance", g.pick(_POOL("payers"))),
            _f("Policy #", f"{g.pick('ABCDWXYZ')}{g.rng.randint(10**7, 10**9)}"),
            _f("Group #", str(g.rng.randint(1000, 99999))),
            _f("Secondary Insurance", g.pick((*_FACE("insurance", "none"), *_POOL("payers")))),
        ],
        [
            _h(g.pick(_FACE("visit", "heading"))),
            _f(g.pick(_FACE("visit", "account_label")), str(g.rng.randint(10**6, 10**9))),
            _f(g.pick(_FACE("visit", "admitted_label")), f"{g.date()} {g.time()}"),
            _f("Admission Type", g.pick(_FACE("visit", "admission_type"))),
            _f(g.pick(_FACE("visit", "attending_label")), g.doctor()),
            _f(g.pick(_FACE("visit", "pcp_label")), g.doctor()),
            _f(
                g.pick(_FACE("visit", "room_label")),
                f"{g.rng.randint(2, 9)}{g.rng.randint(10, 60)}-{g.pick('AB')}",
            ),
            _f(g.pick(_FACE("visit", "reason_label")), g.diagnosis()),
            _f("Financial Class", g.pick(_FACE("visit", "financial_class"))),
        ],
    ]
    chosen = [sections[0], *g.rng.sample(sections[1:], g.rng.randint(2, 4))]
    g.rng.shuffle(chosen)
    return [b for section in chosen for b in section]


def _hp(g: _Gen) -> list[Block]:
    age = g.rng.randint(19, 95)
    dx = g.diagnosis()
    sections: list[tuple[str, list[Block]]] = [
        ("cc", [_h(g.pick(_HP("cc", "heading"))), _p(g.pick(_HP("cc", "text")))]),
        (
            "hpi",
            [
                _h(g.pick(_HP("hpi", "heading"))),
                _p(
                    f"{g.pick(_HP('hpi', 'opener'))} {age}-year-old "
                    f"{g.pick(_HP('hpi', 'sex'))} with a history of {g.diagnosis()} who presents with "
                    f"{g.pick(_HP('hpi', 'complaint'))} "
                    f"for {g.rng.randint(1, 14)} days. " + _sentences(g, _HP("hpi", "more"), 1, 4)
                ),
            ],
        ),
        (
            "pmh",
            [
                _h(g.pick(_HP("pmh", "heading"))),
                _p(", ".join(g.diagnosis() for _ in range(g.rng.randint(1, 4)))),
            ],
        ),
        (
            "psh",
            [
                _h(g.pick(_HP("psh", "heading"))),
                _p(
                    g.say(
                        _HP,
                        "psh",
                        "text",
                        procedure=g.procedure().capitalize(),
                        year=str(g.rng.randint(1980, 2020)),
                    )
                ),
            ],
        ),
        (
            "meds",
            [_h(g.pick(_HP("meds", "heading"))), *[_p(g.med_line()) for _ in range(g.rng.randint(1, 5))]],
        ),
        ("allergies", [_h("Allergies"), _p(g.pick(_HP("allergies")))]),
        ("fh", [_h(g.pick(_HP("fh", "heading"))), _p(g.pick(_HP("fh", "text")))]),
        ("sh", [_h(g.pick(_HP("sh", "heading"))), _p(g.pick(_HP("sh", "text")))]),
        ("ros", [_h(g.pick(_HP("ros", "heading"))), _p(g.pick(_HP("ros", "text")))]),
        (
            "exam",
            [
                _h(g.pick(_HP("exam", "heading"))),
                _f(g.pick(_HP("exam", "vitals_label")), g.vitals()),
                *[
                    _f(k, v)
                    for k, v in g.rng.sample(
                        _fields(g, _HP, "exam", "systems"),
                        g.rng.randint(3, 8),
                    )
                ],
            ],
        ),
        (
            "data",
            [
                _h(g.pick(_HP("data", "heading"))),
                _p(
                    f"WBC {g.rng.randint(4, 19)}.{g.rng.randint(0, 9)}, "
                    f"hemoglobin {g.rng.randint(8, 16)}.{g.rng.randint(0, 9)}, "
                    f"creatinine {g.rng.randint(0, 3)}.{g.rng.randint(1, 9)}. "
                    f"{g.pick(_HP('data', 'studies'))}"
                ),
            ],
        ),
        (
            "ap",
            [
                _h(g.pick(_HP("ap", "heading"))),
                _p(f"{age}-year-old with {dx}. " + _sentences(g, _HP("ap", "plan"), 2, 5)),
            ],
        ),
    ]
    keep = {"hpi", "ap"} | set(g.some([k for k, _ in sections], 4, 10))
    body = [b for key, blocks in sections if key in keep for b in blocks]
    if g.chance(0.3):
        body.insert(g.rng.randint(0, len(body)), _p(g.pick(_POOL("clinical_filler"))))
    return body


def _progress(g: _Gen) -> list[Block]:
    dx = g.diagnosis()
    soap = g.chance(0.5)
    subj = g.pick(_PROGRESS("subjective"))
    obj = f"{g.vitals()}. " + g.pick(_PROGRESS("objective"))
    assess = f"{dx}, {g.pick(_PROGRESS('course'))}."
    plan = _sentences(g, _PROGRESS("plan"), 2, 4)
    if soap:
        body = [
            _p(f"{g.pick(_PROGRESS('soap', 's'))} {subj}"),
            _p(f"{g.pick(_PROGRESS('soap', 'o'))} {obj}"),
            _p(f"{g.pick(_PROGRESS('soap', 'a'))} {assess}"),
            _p(f"{g.pick(_PROGRESS('soap', 'p'))} {plan}"),
        ]
    else:
        body = [
            _h(g.pick(_PROGRESS("headings", "subjective"))),
            _p(subj + " " + _sentences(g, _PROGRESS("interval"), 0, 2)),
            _h(g.pick(_PROGRESS("headings", "objective"))),
            _p(obj),
            _h(g.pick(_PROGRESS("headings", "plan"))),
            _p(f"{assess} {plan}"),
        ]
    if g.chance(0.5):
        body.insert(
            0,
            _f(
                g.pick(_PROGRESS("date_label")),
                g.pick((g.date(), f"#{g.rng.randint(1, 9)}", g.date())),
            ),
        )
    if g.chance(0.4):
        body.insert(g.rng.randint(1, len(body)), _f(g.pick(_PROGRESS("medications_label")), g.med_line()))
    if g.chance(0.4):
        body.append(_p(g.pick(_POOL("clinical_filler"))))
    if g.chance(0.3):
        body.append(_p(f"Time spent: {g.rng.randint(15, 45)} minutes, more than half in counseling."))
    return body


def _consult(g: _Gen) -> list[Block]:
    requester = g.doctor()
    specialty = g.pick(_POOL("specialties"))
    dx = g.diagnosis()
    sections: list[tuple[str, list[Block]]] = [
        (
            "who",
            [
                _f(g.pick(_CONSULT("who", "requester_label")), requester),
                _f(g.pick(_CONSULT("who", "consultant_label")), f"{specialty}"),
            ],
        ),
        ("why", [_h(g.pick(_CONSULT("why", "heading"))), _p(g.say(_CONSULT, "why", "text", dx=dx))]),
        (
            "intro",
            [_p(g.say(_CONSULT, "intro", requester=requester, dx=dx, age=g.number(20, 90)))],
        ),
        ("hpi", [_h(g.pick(_CONSULT("hpi", "heading"))), _p(_sentences(g, _CONSULT("hpi", "text"), 1, 3))]),
        (
            "pmh",
            [
                _h(g.pick(_CONSULT("pmh", "heading"))),
                _p(", ".join(g.diagnosis() for _ in range(g.rng.randint(1, 3)))),
            ],
        ),
        ("meds", [_h("Medications"), _p("; ".join(g.med_line() for _ in range(g.rng.randint(1, 3))))]),
        (
            "exam",
            [
                _h(g.pick(_CONSULT("exam", "heading"))),
                _p(g.vitals() + ". " + g.pick(_CONSULT("exam", "text"))),
            ],
        ),
        ("data", [_h(g.pick(_CONSULT("data", "heading"))), _p(g.pick(_CONSULT("data", "text")))]),
        ("imp", [_h(g.pick(_CONSULT("impression", "heading"))), _p(f"{dx.capitalize()}.")]),
        (
            "rec",
            [
                _h(g.pick(_CONSULT("recommendations", "heading"))),
                *[
                    _p(f"{i}. {r}")
                    for i, r in enumerate(g.some(_CONSULT("recommendations", "text"), 2, 4), start=1)
                ],
            ],
        ),
        ("close", [_p(g.pick(_CONSULT("closing")))]),
    ]
    keep = {"why", "rec"} | set(g.some([k for k, _ in sections], 4, 10))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _discharge_for_patient(g: _Gen) -> list[Block]:
    """The discharge paperwork a patient takes home: plain words, same content."""
    stay = g.rng.randint(1, 10)
    name, dose, form = g.med()
    body = [
        _f(g.pick(_DISCHARGE("patient", "admitted_label")), g.date()),
        _f(g.pick(_DISCHARGE("patient", "discharged_label")), g.date(stay)),
        _h(g.pick(_DISCHARGE("patient", "reason_heading"))),
        _p(g.diagnosis().capitalize() + "."),
        _h(g.pick(_DISCHARGE("patient", "stay_heading"))),
        _p(_sentences(g, _DISCHARGE("patient", "stay"), 1, 3)),
        _h(g.pick(_DISCHARGE("patient", "medicines_heading"))),
        _p(f"NEW: {name} {dose}, {g.sig(form)}"),
        *[
            _p(f"{g.pick(_DISCHARGE('patient', 'medicine_change'))}: {g.med_line()}")
            for _ in range(g.rng.randint(1, 4))
        ],
        _h(g.pick(_DISCHARGE("patient", "follow_up_heading"))),
        _p(f"{g.doctor()} on {g.date(stay + 7)} at {g.time()}"),
        _h(g.pick(_DISCHARGE("patient", "warning_heading"))),
        _p(_sentences(g, _DISCHARGE("patient", "warning"), 2, 4)),
        _f(g.pick(_DISCHARGE("patient", "diet_label")), g.pick(_DISCHARGE("patient", "diet"))),
        _f(g.pick(_DISCHARGE("patient", "activity_label")), g.pick(_DISCHARGE("patient", "activity"))),
    ]
    if g.chance(0.5):
        body.append(_p(_DISCHARGE.text("patient", "signature")))
    return body


def _discharge(g: _Gen) -> list[Block]:
    if g.chance(0.25):
        return _discharge_for_patient(g)
    stay = g.rng.randint(1, 14)
    sections: list[tuple[str, list[Block]]] = [
        (
            "dates",
            [
                _f(g.pick(_DISCHARGE("dates", "admitted_label")), g.date()),
                _f(g.pick(_DISCHARGE("dates", "discharged_label")), g.date(stay)),
            ],
        ),
        ("los", [_f("Length of Stay", f"{stay} days")]),
        ("admdx", [_f(g.pick(_DISCHARGE("admission_diagnosis_label")), g.diagnosis())]),
        (
            "dcdx",
            [
                _h(g.pick(_DISCHARGE("discharge_diagnoses_heading"))),
                *[_p(f"{i}. {g.diagnosis()}") for i in range(1, g.rng.randint(2, 5))],
            ],
        ),
        (
            "procs",
            [
                _h(g.pick(_DISCHARGE("procs", "heading"))),
                _p(
                    g.say(
                        _DISCHARGE,
                        "procs",
                        "text",
                        procedure=lambda: g.procedure().capitalize(),
                        other_procedure=lambda: g.procedure().capitalize(),
                    )
                ),
            ],
        ),
        ("consults", [_h("Consultations"), _p(", ".join(g.some(_POOL("specialties"), 1, 3)))]),
        (
            "course",
            [
                _h(g.pick(_DISCHARGE("course", "heading"))),
                _p(_sentences(g, _DISCHARGE("course", "text"), 2, 6)),
            ],
        ),
        ("cond", [_f(g.pick(_DISCHARGE("condition", "label")), g.pick(_DISCHARGE("condition", "value")))]),
        (
            "dispo",
            [_f(g.pick(_DISCHARGE("disposition", "label")), g.pick(_DISCHARGE("disposition", "value")))],
        ),
        (
            "meds",
            [
                _h(g.pick(_DISCHARGE("medications_heading"))),
                *[_p(g.med_line()) for _ in range(g.rng.randint(2, 6))],
                *([_p(f"STOP taking {g.med()[0]}.")] if g.chance(0.4) else []),
            ],
        ),
        (
            "instr",
            [
                _h(g.pick(_DISCHARGE("instructions", "heading"))),
                _p(_sentences(g, _DISCHARGE("instructions", "text"), 2, 4)),
            ],
        ),
        (
            "fu",
            [
                _h(g.pick(_DISCHARGE("fu", "heading"))),
                _p(
                    g.say(
                        _DISCHARGE,
                        "fu",
                        "text",
                        doctor=g.doctor,
                        specialty=lambda: g.pick(_POOL("specialties")),
                    )
                ),
            ],
        ),
        ("pending", [_f("Pending Results", g.pick(_DISCHARGE("pending")))]),
    ]
    keep = {"course"} | set(g.some([k for k, _ in sections], 5, 12))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _operative(g: _Gen) -> list[Block]:
    proc = g.procedure()
    dx = g.diagnosis()
    fields = [
        _f(g.pick(_OPERATIVE("fields", "date")), g.date()),
        _f(g.pick(_OPERATIVE("fields", "surgeon")), g.doctor()),
        _f(
            g.pick(_OPERATIVE("fields", "assistant")),
            g.pick((*_OPERATIVE("values", "no_assistant"), g.doctor())),
        ),
        _f(g.pick(_OPERATIVE("fields", "preoperative_diagnosis")), dx),
        _f(
            g.pick(_OPERATIVE("fields", "postoperative_diagnosis")),
            g.pick((*_OPERATIVE("values", "same"), dx)),
        ),
        _f(g.pick(_OPERATIVE("fields", "procedure")), proc),
        _f(g.pick(_OPERATIVE("fields", "anesthesia")), g.pick(_OPERATIVE("values", "anesthesia"))),
        _f(g.pick(_OPERATIVE("fields", "blood_loss")), g.pick(_OPERATIVE("values", "blood_loss"))),
        _f("Fluids", f"{g.rng.randint(4, 20)}00 mL crystalloid"),
        _f(g.pick(_OPERATIVE("fields", "specimens")), g.pick(_OPERATIVE("values", "specimens"))),
        _f("Drains", g.pick(_OPERATIVE("values", "drains"))),
        _f(g.pick(_OPERATIVE("fields", "complications")), g.pick(_OPERATIVE("values", "complications"))),
        _f(g.pick(_OPERATIVE("fields", "implants")), g.pick(_OPERATIVE("values", "implants"))),
    ]
    body = g.rng.sample(fields, g.rng.randint(5, len(fields)))
    if g.chance(0.6):
        body.append(_h(g.pick(_OPERATIVE("indications_heading"))))
        body.append(_p(g.write(_OPERATIVE, "indication", dx=dx)))
    if g.chance(0.5):
        body.append(_h("Findings"))
        body.append(_p(g.pick(_OPERATIVE("findings"))))
    body.append(_h(g.pick(_OPERATIVE("description_heading"))))
    body.append(_p(_sentences(g, _OPERATIVE("description"), 3, 8)))
    if g.chance(0.4):
        body.append(_f("Disposition", g.pick(_OPERATIVE("disposition"))))
    return body


def _lab(g: _Gen) -> list[Block]:
    body: list[Block] = []
    meta = [
        _f(g.pick(_LAB("meta", "accession")), f"{g.pick('ABCLMS')}{g.rng.randint(10**6, 10**8)}"),
        _f(g.pick(_LAB("meta", "collected")), f"{g.date()} {g.time()}"),
        _f(g.pick(_LAB("meta", "received")), f"{g.date()} {g.time()}"),
        _f(g.pick(_LAB("meta", "reported")), f"{g.date(1)} {g.time()}"),
        _f(g.pick(_LAB("meta", "ordered_by")), g.doctor()),
        _f(g.pick(_LAB("meta", "specimen")), g.pick(_LAB("specimens"))),
        _f("Status", g.pick(_LAB("statuses"))),
    ]
    body.extend(g.rng.sample(meta, g.rng.randint(2, len(meta))))
    body.append(Block("blank", ("",)))
    for _ in range(g.rng.randint(1, 3)):
        if g.chance(0.7):
            body.append(_h(g.pick(_POOL("panels"))))
        header = tuple(str(c) for c in g.rng.choice(_LAB.rows("table_headers")))
        if g.chance(0.8):
            body.append(_row(*header))
        for name, unit, low, high, decimals in g.rng.sample(
            list(_POOL.rows("analytes")), g.rng.randint(3, 10)
        ):
            span = high - low
            value = g.rng.uniform(low - 0.3 * span, high + 0.3 * span)
            flag = "H" if value > high else "L" if value < low else ""
            shown = f"{value:.{decimals}f}"
            ref = f"{low:.{decimals}f}-{high:.{decimals}f}"
            if header[2] in ("Flag", "FLAG"):
                body.append(_row(name, shown, flag, f"{ref} {unit}".strip()))
            else:
                body.append(_row(name, f"{shown} {flag}".strip(), unit, ref))
    if g.chance(0.5):
        body.append(_p(g.pick(_LAB("comments"))))
    if g.chance(0.5):
        body.append(
            _p(
                f"{g.pick(_LAB('performed_at'))}: {g.facility()[0]} Laboratory  "
                f"CLIA {g.rng.randint(10, 99)}D{g.rng.randint(10**6, 10**7)}"
            )
        )
    if g.chance(0.4):
        body.append(_p(f"{g.pick(_LAB('verified_by'))}: {g.doctor()}"))
    return body


def _radiology(g: _Gen) -> list[Block]:
    exam, region = g.rng.choice(_POOL.rows("exams"))
    findings = g.some(_RADIOLOGY("findings", str(region)), 1, 3)
    sections: list[tuple[str, list[Block]]] = [
        ("exam", [_f(g.pick(_RADIOLOGY("exam_label")), str(exam))]),
        ("date", [_f(g.pick(_RADIOLOGY("date_label")), g.date())]),
        (
            "hist",
            [
                _f(
                    g.pick(_RADIOLOGY("hist", "label")),
                    g.say(_RADIOLOGY, "hist", "value", diagnosis=g.diagnosis),
                )
            ],
        ),
        (
            "comp",
            [
                _f(
                    g.pick(_RADIOLOGY("comp", "label")),
                    g.say(
                        _RADIOLOGY,
                        "comp",
                        "value",
                        long_ago=lambda: g.date(-200),
                        prior_date=lambda: g.date(-90),
                    ),
                )
            ],
        ),
        ("tech", [_f(g.pick(_RADIOLOGY("technique", "label")), g.pick(_RADIOLOGY("technique", "value")))]),
        ("findings", [_h(g.pick(_RADIOLOGY("findings_heading"))), *[_p(f) for f in findings]]),
        (
            "impression",
            [
                _h(g.pick(_RADIOLOGY("impression", "heading"))),
                _p(g.say(_RADIOLOGY, "impression", "text", finding=findings[0])),
            ],
        ),
        ("sign", [_p(g.say(_RADIOLOGY, "sign", doctor=g.doctor))]),
    ]
    keep = {"exam", "findings", "impression"} | set(g.some([k for k, _ in sections], 2, 5))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _referral(g: _Gen) -> list[Block]:
    specialist = g.doctor()
    specialty = g.pick(_POOL("specialties"))
    dx = g.diagnosis()
    last, first = g.patient
    if g.chance(0.2):  # a short clinician-to-clinician note
        return [
            _p(g.say(_REFERRAL, "note", "to", specialist=specialist, specialty=specialty)),
            _p(g.say(_REFERRAL, "note", "from", doctor=g.doctor)),
            _p(g.say(_REFERRAL, "note", "ask", first=first, last=last, dx=dx)),
            _p(g.pick(_REFERRAL("note", "records"))),
            _p(g.say(_REFERRAL, "note", "booking", urgency=lambda: g.pick(_REFERRAL("note", "urgency")))),
            _p(g.pick(_REFERRAL("note", "closing")) + " " + g.doctor()),
        ]
    if g.chance(0.5):  # a letter
        body = [
            _p(g.date()),
            _p(
                f"{g.pick(_REFERRAL('letter', 'salutation'))} {specialist.replace('Dr. ', '')}"
                + ("," if g.chance(0.7) else "")
            ),
            _p(g.say(_REFERRAL, "letter", "opening", first=first, last=last, dx=dx, specialty=specialty)),
            _p(_sentences(g, _REFERRAL("letter", "body"), 1, 4)),
            _p(g.pick(_REFERRAL("letter", "thanks"))),
            _p(g.pick(_REFERRAL("letter", "closing"))),
            _p(g.doctor()),
        ]
        if g.chance(0.4):
            body.insert(
                2, _f(g.pick(_REFERRAL("letter", "re_label")), f"{first} {last}, DOB {g.dob.isoformat()}")
            )
        return body
    fields = [
        _f(g.pick(_REFERRAL("form", "referring_label")), g.doctor()),
        _f(g.pick(_REFERRAL("form", "referred_to_label")), f"{specialist}, {specialty}"),
        _f(g.pick(_REFERRAL("form", "specialty_label")), specialty),
        _f(g.pick(_REFERRAL("form", "reason_label")), dx),
        _f(g.pick(_REFERRAL("form", "code_label")), str(g.rng.choice(_POOL.rows("diagnoses"))[1])),
        _f(g.pick(_REFERRAL("form", "urgency_label")), g.pick(_REFERRAL("form", "urgency"))),
        _f(g.pick(_REFERRAL("form", "visits_label")), str(g.rng.randint(1, 6))),
        _f(g.pick(_REFERRAL("form", "authorization_label")), str(g.rng.randint(10**5, 10**8))),
        _f(g.pick(_REFERRAL("form", "type_label")), g.pick(_REFERRAL("form", "type"))),
        _f("Records Attached", g.pick(_REFERRAL("form", "records"))),
    ]
    body = g.rng.sample(fields, g.rng.randint(4, len(fields)))
    if g.chance(0.6):
        body.append(_h(g.pick(_REFERRAL("form", "summary_heading"))))
        body.append(_p(_sentences(g, _REFERRAL("form", "summary"), 1, 3)))
    if g.chance(0.5):
        body.append(_p(f"Referring provider signature: {g.doctor()}   Date: {g.date()}"))
    return body


def _consent_plain(g: _Gen) -> list[Block]:
    proc = g.procedure()
    return [
        _f(g.pick(_CONSENT("plain", "procedure_label")), proc),
        _f(g.pick(_CONSENT("plain", "doctor_label")), g.doctor()),
        _p(g.pick(_CONSENT("plain", "explained"))),
        _p(g.pick(_CONSENT("plain", "risks"))),
        _p(g.pick(_CONSENT("plain", "agreement"))),
        _p(g.pick(_CONSENT("plain", "rights"))),
        _p(f"{g.pick(_CONSENT('plain', 'signed_label'))}: ____________________  Date: __________"),
        _p(f"{g.pick(_CONSENT('plain', 'witness_label'))}: ____________________"),
    ]


def _consent(g: _Gen) -> list[Block]:
    if g.chance(0.3):
        return _consent_plain(g)
    last, first = g.patient
    proc = g.procedure()
    doctor = g.doctor()
    release = g.chance(0.25)
    if release:
        body = [
            _p(
                g.say(
                    _CONSENT,
                    "release",
                    "opening",
                    first=first,
                    last=last,
                    facility=lambda: g.facility()[0],
                    other_facility=lambda: g.facility()[0],
                )
            ),
            _f(g.pick(_CONSENT("release", "information_label")), g.pick(_CONSENT("release", "information"))),
            _f("Purpose", g.pick(_CONSENT("release", "purpose"))),
            _p(_CONSENT.text("release", "expiry")),
            _p(_CONSENT.text("release", "not_conditioned")),
        ]
    else:
        body = [
            _p(g.say(_CONSENT, "surgery", "opening", first=first, last=last, doctor=doctor, procedure=proc)),
            _p(_sentences(g, _CONSENT("surgery", "statements"), 2, 6)),
        ]
    signatures = [
        _p(f"{g.pick(_CONSENT('signatures', 'patient'))}: ________________________"),
        _p(f"Date/Time: ____________   {g.pick(_CONSENT('signatures', 'relationship'))}: ______________"),
        _p(f"{g.pick(_CONSENT('signatures', 'witness'))}: ________________________"),
        _p(f"{g.pick(_CONSENT('signatures', 'physician'))}: ________________________"),
        _p(
            "Interpreter (if used): ________________   Language: "
            + g.pick(_CONSENT("signatures", "language"))
        ),
    ]
    body.extend(g.rng.sample(signatures, g.rng.randint(2, 5)))
    return body


def _prescription_printout(g: _Gen) -> list[Block]:
    """An e-prescribing or fax printout: one medication, labelled fields."""
    name, dose, form = g.med()
    fields = [
        _f(g.pick(_RX("printout", "medication")), f"{name} {dose} {form}"),
        _f(g.pick(_RX("printout", "directions")), g.sig(form)),
        _f(g.pick(_RX("printout", "quantity")), str(g.rng.choice((7, 14, 30, 60, 90)))),
        _f(g.pick(_RX("printout", "supply")), str(g.rng.choice((7, 30, 90)))),
        _f(g.pick(_RX("printout", "refills")), str(g.rng.randint(0, 11))),
        _f(g.pick(_RX("printout", "substitution")), g.pick(_RX("printout", "substitution_value"))),
        _f(g.pick(_RX("printout", "prescriber")), g.doctor()),
        _f(g.pick(_RX("printout", "npi")), str(g.rng.randint(10**9, 10**10 - 1))),
        _f(g.pick(_RX("printout", "pharmacy")), f"{g.pick(_POOL('places'))} Pharmacy"),
        _f(g.pick(_RX("printout", "written")), g.date()),
        _f(g.pick(_RX("printout", "diagnosis")), g.diagnosis()),
    ]
    body = g.rng.sample(fields[:3], 3) + g.rng.sample(fields[3:], g.rng.randint(3, len(fields) - 3))
    if g.chance(0.4):
        body.append(_p(g.pick(_RX("printout", "notes"))))
    return body


def _prescription(g: _Gen) -> list[Block]:
    if g.chance(0.35):
        return _prescription_printout(g)
    body: list[Block] = []
    prescriber = g.doctor()
    if g.chance(0.6):
        body.append(
            _p(
                f"{prescriber}  NPI {g.rng.randint(10**9, 10**10 - 1)}"
                + (
                    f"  DEA {g.pick('ABFM')}{g.pick('ABCDKLMS')}{g.rng.randint(10**6, 10**7 - 1)}"
                    if g.chance(0.6)
                    else ""
                )
            )
        )
    if g.chance(0.5):
        body.append(_f("Date", g.date()))
    for _ in range(g.rng.randint(1, 3)):
        name, dose, form = g.med()
        if g.chance(0.3):
            body.append(_p(g.pick(_RX("rx_mark"))))
        body.append(
            _p(g.say(_RX, "drug", name=name, Name=name.capitalize(), NAME=name.upper(), dose=dose, form=form))
        )
        body.append(_f(g.pick(_RX("sig_label")), g.sig(form)))
        body.append(
            _f(
                g.pick(_RX("dispense", "label")),
                g.say(
                    _RX,
                    "dispense",
                    "value",
                    count=lambda: str(g.rng.choice((14, 30, 60, 90))),
                    thirty_or_ninety=lambda: str(g.rng.choice((30, 90))),
                    in_words=lambda: g.pick(_RX("dispense", "in_words")),
                    units=lambda: str(g.rng.choice((1, 2))),
                    form=form,
                ),
            )
        )
        body.append(_f(g.pick(_RX("refills", "label")), g.pick(_RX("refills", "value"))))
    body.append(_p(g.pick(_RX("substitution"))))
    if g.chance(0.5):
        body.append(_f(g.pick(_RX("pharmacy_label")), f"{g.pick(_POOL('places'))} Pharmacy {g.phone()}"))
    body.append(_p(f"{g.pick(_RX('signature_label'))}: {g.pick((*_RX('signature_line'), prescriber))}"))
    return body


def _insurance(g: _Gen) -> list[Block]:
    payer = g.pick(_POOL("payers"))
    last, first = g.patient
    kind = g.rng.randrange(5)
    if kind == 4:  # a statement to the member
        lines = [
            _f(g.pick(_INSURANCE("statement", "member")), f"{first} {last}"),
            _f(
                g.pick(_INSURANCE("statement", "member_id")),
                f"{g.pick('XYZHMW')}{g.rng.randint(10**7, 10**9)}",
            ),
            _f(g.pick(_INSURANCE("statement", "plan")), payer),
            _f(g.pick(_INSURANCE("statement", "period")), f"{g.date(-90)} - {g.date()}"),
            _row(
                *(g.pick(_INSURANCE("statement", "columns", c)) for c in ("date", "billed", "paid", "share"))
            ),
            *[
                _row(
                    g.date(-7 * i),
                    f"${g.rng.randint(80, 2000)}.00",
                    f"${g.rng.randint(40, 900)}.00",
                    f"${g.rng.randint(0, 200)}.00",
                )
                for i in range(g.rng.randint(1, 4))
            ],
            _f(g.pick(_INSURANCE("statement", "deductible")), f"${g.rng.randint(0, 1500)}"),
            _f(g.pick(_INSURANCE("statement", "out_of_pocket")), f"${g.rng.randint(0, 4000)}"),
            _p(g.pick(_INSURANCE("statement", "notes"))),
        ]
        return lines
    member = [
        _f(g.pick(_INSURANCE("member", "payer")), payer),
        _f(g.pick(_INSURANCE("member", "member_id")), f"{g.pick('XYZHMW')}{g.rng.randint(10**8, 10**10)}"),
        _f(g.pick(_INSURANCE("member", "group")), str(g.rng.randint(1000, 999999))),
        _f(g.pick(_INSURANCE("member", "subscriber")), g.pick((f"{first} {last}", g.person()))),
        _f(g.pick(_INSURANCE("member", "relationship")), g.pick(_INSURANCE("member", "relationship_value"))),
        _f(g.pick(_INSURANCE("member", "effective")), g.date(-300)),
    ]
    body = g.rng.sample(member, g.rng.randint(3, 6))
    if kind == 0:  # eligibility / card
        body += [
            _f(g.pick(_INSURANCE("card", "copay")), f"${g.rng.choice((10, 20, 25, 35, 40))}"),
            _f(g.pick(_INSURANCE("card", "specialist_copay")), f"${g.rng.choice((40, 50, 60))}"),
            _f(
                g.pick(_INSURANCE("card", "deductible")),
                f"${g.rng.choice((500, 1000, 1500, 3000))} (met ${g.rng.randint(0, 500)})",
            ),
            _f(g.pick(_INSURANCE("card", "coinsurance")), f"{g.rng.choice((10, 20, 30))}%"),
            _f(g.pick(_INSURANCE("card", "out_of_pocket")), f"${g.rng.choice((3000, 5000, 7900))}"),
            _f(g.pick(_INSURANCE("card", "status")), g.pick(_INSURANCE("card", "status_value"))),
            _p(g.pick(_INSURANCE("card", "notes"))),
        ]
    elif kind == 1:  # EOB / claim
        body += [
            _f(g.pick(_INSURANCE("eob", "claim")), str(g.rng.randint(10**9, 10**11))),
            _f(g.pick(_INSURANCE("eob", "service_date")), g.date()),
            _f("Provider", g.facility()[0]),
            _row("Service", "Billed", "Allowed", "Plan Paid"),
            *[
                _row(
                    f"{g.rng.randint(10000, 99999)} {g.pick(_INSURANCE('eob', 'services'))}",
                    f"${g.rng.randint(80, 2000)}.00",
                    f"${g.rng.randint(40, 900)}.00",
                    f"${g.rng.randint(20, 800)}.00",
                )
                for _ in range(g.rng.randint(1, 4))
            ],
            _f(
                g.pick(_INSURANCE("eob", "owed")),
                f"${g.rng.randint(0, 600)}.{g.rng.randint(10, 99)}",
            ),
            _p(g.pick(_INSURANCE("eob", "notes"))),
        ]
    elif kind == 2:  # prior authorization
        body += [
            _f(
                g.pick(_INSURANCE("authorization", "service")),
                g.pick((g.procedure(), str(g.rng.choice(_POOL.rows("exams"))[0]))),
            ),
            _f(g.pick(_INSURANCE("authorization", "cpt")), str(g.rng.randint(10000, 99999))),
            _f(
                g.pick(_INSURANCE("authorization", "diagnosis")),
                str(g.rng.choice(_POOL.rows("diagnoses"))[1]),
            ),
            _f(g.pick(_INSURANCE("authorization", "requester")), g.doctor()),
            _f(
                g.pick(_INSURANCE("authorization", "determination")),
                g.pick(_INSURANCE("authorization", "determination_value")),
            ),
            _f(g.pick(_INSURANCE("authorization", "number")), str(g.rng.randint(10**6, 10**9))),
            _p(g.pick(_INSURANCE("authorization", "notes"))),
        ]
    else:  # a claim form
        body += [
            _f(
                g.pick(_INSURANCE("claim", "address")), f"{g.rng.randint(10, 999)} {g.pick(_POOL('streets'))}"
            ),
            _f(
                g.pick(_INSURANCE("claim", "provider")),
                f"{g.doctor()} NPI {g.rng.randint(10**9, 10**10 - 1)}",
            ),
            _f("Tax ID", f"{g.rng.randint(10, 99)}-{g.rng.randint(10**6, 10**7 - 1)}"),
            _f(g.pick(_INSURANCE("claim", "total")), f"${g.rng.randint(100, 5000)}.00"),
            _f(g.pick(_INSURANCE("claim", "paid")), f"${g.rng.randint(0, 300)}.00"),
            _f("Accept Assignment", g.pick(_INSURANCE("claim", "accept_assignment"))),
            _p(_INSURANCE.text("claim", "signature")),
        ]
    return body


def _other(g: _Gen) -> list[Block]:
    kind = g.rng.randrange(6)
    last, first = g.patient
    if kind == 0:  # fax cover
        return [
            _f("To", g.say(_OTHER, "fax", "to", doctor=g.doctor, facility=lambda: g.facility()[0])),
            _f("From", g.say(_OTHER, "fax", "from", doctor=g.doctor, facility=lambda: g.facility()[0])),
            _f("Fax", g.phone()),
            _f("Phone", g.phone()),
            _f(g.pick(_OTHER("fax", "pages_label")), str(g.rng.randint(2, 20))),
            _f(g.pick(_OTHER("fax", "subject_label")), g.pick(_OTHER("fax", "subject"))),
            _f("Date", g.date()),
            _p(g.pick(_OTHER("fax", "checkboxes"))),
            _p(_OTHER.text("fax", "confidentiality")),
        ]
    if kind == 1:  # appointment reminder
        return [
            _p(g.date(-7)),
            _p(f"Dear {first} {last},"),
            _p(
                g.say(
                    _OTHER,
                    "reminder",
                    "text",
                    in_a_week=lambda: g.date(7),
                    in_ten_days=lambda: g.date(10),
                    time=g.time,
                    doctor=g.doctor,
                )
            ),
            _p(g.pick(_OTHER("reminder", "bring"))),
            _p(g.say(_OTHER, "reminder", "reschedule", phone=g.phone)),
            _p(g.pick(_OTHER("reminder", "closing")) + " " + g.pick(_OTHER("reminder", "signed"))),
        ]
    if kind == 2:  # records request / correspondence
        return [
            _p(g.date()),
            _p(g.say(_OTHER, "letter", "greeting", first=first, last=last)),
            _p(g.pick(_OTHER("letter", "text"))),
            _p(g.pick(_OTHER("letter", "contact"))),
            _p(g.pick(_OTHER("letter", "closing"))),
            _p(g.pick((*_OTHER("letter", "signed"), g.person()))),
        ]
    if kind == 3:  # patient education
        topic = g.pick(_OTHER("education", "topics"))
        return [
            _h(topic),
            _p(_sentences(g, _OTHER("education", "text"), 3, 6)),
            _p(_OTHER.text("education", "disclaimer")),
        ]
    if kind == 4:  # phone message / memo (administrative)
        return [
            _f("Date", g.date()),
            _f(g.pick(_OTHER("message", "caller_label")), g.person()),
            _f(g.pick(_OTHER("message", "phone_label")), g.phone()),
            _f("Message", g.pick(_OTHER("message", "text"))),
            _f("Taken by", g.pick(_POOL("first_names"))),
        ]
    if kind == 5 and g.chance(0.6):  # practice announcements and surveys
        return [
            _p(g.date()),
            _p(g.say(_OTHER, "announcement", "greeting", first=first)),
            _p(g.pick(_OTHER("announcement", "text"))),
            _p(g.pick(_OTHER("announcement", "thanks"))),
            _p(
                g.pick(_OTHER("announcement", "closing"))
                + " "
                + g.pick((*_OTHER("announcement", "signed"), g.person()))
            ),
        ]
    return [_p(g.pick(_OTHER("blank_page")))]  # nearly empty: a cover or blank page


_BODIES: Final[dict[str, Callable[[_Gen], list[Block]]]] = {
    "face_sheet": _face_sheet,
    "history_physical": _hp,
    "progress_note": _progress,
    "consult_note": _consult,
    "discharge_summary": _discharge,
    "operative_report": _operative,
    "lab_report": _lab,
    "radiology_report": _radiology,
    "referral": _referral,
    "consent_form": _consent,
    "prescription": _prescription,
    "insurance": _insurance,
    "other": _other,
}


def generate_document(doc_type: str, seed: int) -> CorpusDoc:
    """One training document of ``doc_type``; the same (type, seed) always gives the same document."""
    if doc_type not in _BODIES:
        raise ValueError(f"unknown document type {doc_type!r}")
    rng = random.Random(f"{doc_type}:{seed}")
    g = _Gen(rng)
    titled = rng.random() >= NO_TITLE_SHARE
    body = _BODIES[doc_type](g)
    if rng.random() < 0.15:  # a longer document: a second helping of its own body
        body += _BODIES[doc_type](g)
    blocks = [*_header(g, doc_type, titled), *body, *_footer(g)]
    return CorpusDoc(
        doc_type=doc_type, seed=seed, blocks=tuple(blocks), layout=random_layout(rng), titled=titled
    )


# --------------------------------------------------------------------------- text-level OCR noise

_CONFUSIONS: Final = {
    "l": ("1", "I", "|"), "I": ("l", "1"), "O": ("0",), "o": ("0", "c"), "0": ("O",), "1": ("l", "I"),
    "S": ("5",), "5": ("S",), "e": ("c",), "c": ("e",), "rn": ("m",), "m": ("rn",), "cl": ("d",), "B": ("8",),
    "i": ("l", "1"), "h": ("b",), "n": ("ri",), "u": ("ii",), "a": ("o",), "t": ("f",),
}  # fmt: skip


def ocr_noise(text: str, rng: random.Random, rate: float) -> str:
    """``text`` with OCR-like damage: confused glyphs, lost or extra spaces, dropped
    characters, at about ``rate`` per character."""
    out: list[str] = []
    i = 0
    while i < len(text):
        two = text[i : i + 2]
        if rng.random() < rate:
            roll = rng.random()
            if two in _CONFUSIONS and roll < 0.5:
                out.append(rng.choice(_CONFUSIONS[two]))
                i += 2
                continue
            ch = text[i]
            if ch in _CONFUSIONS and roll < 0.7:
                out.append(rng.choice(_CONFUSIONS[ch]))
            elif ch == " " and roll < 0.85:
                pass  # two words run together
            elif roll < 0.9:
                out.append(ch + " ")  # a word split
            elif roll < 0.95:
                pass  # a lost character
            else:
                out.append(ch + rng.choice(".,'`"))
            i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
