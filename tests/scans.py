"""Synthetic scans for the tests: medical-looking pages, separator sheets and file writers.

Every test builds its own pages here; no real patient data is ever used. Pages are
rendered with PIL and TTF fonts as upright, dark-on-white uint8 grayscale arrays;
:func:`distort` then turns, blurs and speckles them like a scanner would.

Import it as ``from chartclerk.tests.scans import render_page`` (the repository root is
the ``chartclerk`` package, so ``tests`` resolves as its namespace sub-package).

All randomness comes from ``random.Random`` / ``numpy.random.default_rng`` seeded by
the ``seed`` arguments, so a given call always produces the same pixels.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.training.render import FONTS, scan_like

__all__ = [
    "DOC_TYPES",
    "FONTS",
    "FakePatient",
    "SyntheticDoc",
    "distort",
    "make_roster",
    "render_document",
    "render_page",
    "separator_sheet",
    "write_jpeg",
    "write_pdf",
    "write_png",
    "write_roster_csv",
    "write_tiff",
]

logger = logging.getLogger(__name__)

GrayImage = npt.NDArray[np.uint8]
PathLike = str | Path


# --------------------------------------------------------------------------- patients

_FEMALE_FIRST: Final = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Margaret", "Sandra", "Ashley", "Dorothy",
    "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah",
    "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Guadalupe", "Mei", "Aisha",
)  # fmt: skip
_MALE_FIRST: Final = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph",
    "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald",
    "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George",
    "Timothy", "Ronald", "Edward", "Jason", "Jose", "Hiroshi", "Tariq", "Dmitri",
)  # fmt: skip
_LAST: Final = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
    "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
    "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "O'Brien", "Kowalski",
    "Okafor", "Lindqvist",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FakePatient:
    mrn: str
    last: str
    first: str
    dob: dt.date
    sex: str  # "F" or "M"


def make_roster(n: int, seed: int) -> list[FakePatient]:
    """``n`` synthetic patients with unique 7-8 digit MRNs (strings, may start with 0)."""
    rng = random.Random(f"roster:{seed}")
    first_day = dt.date(1930, 1, 1).toordinal()
    last_day = dt.date(2015, 12, 31).toordinal()
    patients: list[FakePatient] = []
    seen: set[str] = set()
    while len(patients) < n:
        digits = rng.choice((7, 8, 8))
        mrn = "".join(rng.choice("0123456789") for _ in range(digits))
        if mrn in seen:
            continue
        seen.add(mrn)
        sex = rng.choice("FM")
        first = rng.choice(_FEMALE_FIRST if sex == "F" else _MALE_FIRST)
        dob = dt.date.fromordinal(rng.randint(first_day, last_day))
        patients.append(FakePatient(mrn=mrn, last=rng.choice(_LAST), first=first, dob=dob, sex=sex))
    return patients


def write_roster_csv(path: PathLike, patients: Sequence[FakePatient]) -> None:
    """CSV with header ``mrn,last,first,dob,sex`` and ISO dates."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("mrn", "last", "first", "dob", "sex"))
        for p in patients:
            writer.writerow((p.mrn, p.last, p.first, p.dob.isoformat(), p.sex))


# --------------------------------------------------------------------------- vocabulary

_FACILITIES: Final = (
    ("Riverside Community Hospital", "1200 Lakeshore Drive, Springfield, OR 97477"),
    ("St. Brendan Medical Center", "45 Abbey Road, Fairview, WI 53012"),
    ("Maple Valley Family Clinic", "300 Maple Avenue, Suite 2, Greenfield, IN 46140"),
    ("Harborview Internal Medicine Associates", "88 Wharf Street, Portsmouth, NH 03801"),
    ("Northgate Orthopedic Group", "7710 Northgate Blvd, Sacramento, CA 95834"),
    ("Cedar Ridge Regional Health", "19 Ridge Parkway, Cedar Falls, IA 50613"),
    ("Blue Heron Cardiology", "2020 Heron Lane, Tallahassee, FL 32301"),
    ("Pinecrest Medical Laboratory", "560 Industrial Way, Boise, ID 83705"),
    ("Summit Imaging Partners", "14 Summit Plaza, Denver, CO 80202"),
    ("Willow Creek Surgical Center", "901 Willow Creek Road, Prescott, AZ 86301"),
)
_DOCTORS: Final = (
    "Alan Whitfield", "Priya Raman", "Carlos Mendoza", "Helen Okoye", "Samuel Brandt",
    "Grace Liu", "Omar Haddad", "Rachel Feldman", "Victor Novak", "Nora Sullivan",
)  # fmt: skip
_DIAGNOSES: Final = (
    ("Community-acquired pneumonia", "J18.9"),
    ("Essential hypertension", "I10"),
    ("Type 2 diabetes mellitus without complications", "E11.9"),
    ("Congestive heart failure", "I50.9"),
    ("Chronic obstructive pulmonary disease", "J44.9"),
    ("Acute kidney injury", "N17.9"),
    ("Urinary tract infection", "N39.0"),
    ("Atrial fibrillation", "I48.91"),
    ("Cellulitis of left lower limb", "L03.116"),
    ("Osteoarthritis of right knee", "M17.11"),
    ("Acute appendicitis", "K35.80"),
    ("Major depressive disorder, single episode", "F32.9"),
)
_MEDS: Final = (
    ("Lisinopril", "10 mg", "Take 1 tablet by mouth once daily"),
    ("Metformin", "500 mg", "Take 1 tablet by mouth twice daily with meals"),
    ("Atorvastatin", "40 mg", "Take 1 tablet by mouth at bedtime"),
    ("Amlodipine", "5 mg", "Take 1 tablet by mouth once daily"),
    ("Metoprolol succinate", "25 mg", "Take 1 tablet by mouth once daily"),
    ("Furosemide", "20 mg", "Take 1 tablet by mouth every morning"),
    ("Amoxicillin", "500 mg", "Take 1 capsule by mouth three times daily for 10 days"),
    ("Levothyroxine", "75 mcg", "Take 1 tablet by mouth before breakfast"),
    ("Apixaban", "5 mg", "Take 1 tablet by mouth twice daily"),
    ("Sertraline", "50 mg", "Take 1 tablet by mouth once daily"),
    ("Omeprazole", "20 mg", "Take 1 capsule by mouth before breakfast"),
    ("Albuterol inhaler", "90 mcg", "Inhale 2 puffs every 4 to 6 hours as needed"),
)
# name, unit, low, high, decimals
_ANALYTES: Final = (
    ("Hemoglobin", "g/dL", 12.0, 16.0, 1),
    ("Hematocrit", "%", 36.0, 46.0, 1),
    ("WBC", "K/uL", 4.0, 11.0, 1),
    ("Platelets", "K/uL", 150.0, 400.0, 0),
    ("Sodium", "mmol/L", 135.0, 145.0, 0),
    ("Potassium", "mmol/L", 3.5, 5.1, 1),
    ("Chloride", "mmol/L", 98.0, 107.0, 0),
    ("CO2", "mmol/L", 22.0, 29.0, 0),
    ("BUN", "mg/dL", 7.0, 20.0, 0),
    ("Creatinine", "mg/dL", 0.6, 1.2, 2),
    ("Glucose", "mg/dL", 70.0, 99.0, 0),
    ("Calcium", "mg/dL", 8.6, 10.3, 1),
    ("Total Cholesterol", "mg/dL", 125.0, 200.0, 0),
    ("LDL Cholesterol", "mg/dL", 0.0, 100.0, 0),
    ("HDL Cholesterol", "mg/dL", 40.0, 60.0, 0),
    ("Triglycerides", "mg/dL", 0.0, 150.0, 0),
    ("Hemoglobin A1c", "%", 4.0, 5.6, 1),
    ("TSH", "mIU/L", 0.4, 4.0, 2),
    ("ALT", "U/L", 7.0, 56.0, 0),
    ("AST", "U/L", 10.0, 40.0, 0),
)
_EXAMS: Final = (
    ("CT Chest without contrast", "Axial images of the chest were obtained without intravenous contrast."),
    ("MRI Lumbar Spine without contrast", "Multiplanar multisequence images of the lumbar spine."),
    ("Chest X-ray, 2 views", "Frontal and lateral radiographs of the chest."),
    ("CT Abdomen and Pelvis with contrast", "Axial images after intravenous contrast administration."),
    ("Ultrasound Right Upper Quadrant", "Grayscale and color Doppler images of the right upper quadrant."),
)
_PROCEDURES: Final = (
    "laparoscopic appendectomy",
    "laparoscopic cholecystectomy",
    "right total knee arthroplasty",
    "open reduction and internal fixation of the left distal radius",
    "colonoscopy with polypectomy",
    "inguinal hernia repair with mesh",
)
_PAYERS: Final = (
    "Blue Meadow Health Plan",
    "Evergreen Mutual Insurance",
    "Keystone Care Alliance",
    "Medicare Part B",
    "State Medicaid Program",
)
_NARRATIVE: Final = (
    "The patient tolerated the visit well and all questions were answered.",
    "Vital signs remained stable and the patient was afebrile throughout.",
    "Medication reconciliation was completed and reviewed with the patient.",
    "The patient was counseled on diet, exercise and smoking cessation.",
    "Laboratory values were reviewed and discussed with the patient today.",
    "Follow-up with the primary care physician is recommended in two weeks.",
    "The patient denies chest pain, shortness of breath, nausea or vomiting.",
    "Home health services were arranged for wound care and physical therapy.",
    "Risks, benefits and alternatives were discussed and the patient agreed.",
    "The patient will return sooner if symptoms worsen or new symptoms appear.",
    "Pain is well controlled on the current regimen without side effects.",
    "Family members were present and participated in the discussion of care.",
)

# --------------------------------------------------------------------------- content model


@dataclass(frozen=True, slots=True)
class _Item:
    """One logical piece of a page before wrapping.

    ``style`` is one of letterhead, address, title, banner, heading, para, kv, row, blank.
    ``cells`` holds a single string except for table rows (drawn at tab stops).
    """

    style: str
    cells: tuple[str, ...]


def _para(text: str) -> _Item:
    return _Item("para", (text,))


def _heading(text: str) -> _Item:
    return _Item("heading", (text,))


def _kv(key: str, value: str) -> _Item:
    return _Item("kv", (f"{key}: {value}",))


def _row(*cells: str) -> _Item:
    return _Item("row", cells)


_BLANK: Final = _Item("blank", ("",))


def _us_date(d: dt.date) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def _service_date(rng: random.Random) -> dt.date:
    return dt.date(2022, 1, 1) + dt.timedelta(days=rng.randint(0, 900))


def _doctor(rng: random.Random) -> str:
    return f"Dr. {rng.choice(_DOCTORS)}"


def _narrative(rng: random.Random, n: int) -> str:
    return " ".join(rng.sample(_NARRATIVE, n))


_TITLES: Final[dict[str, tuple[str, ...]]] = {
    "face_sheet": ("Patient Face Sheet", "FACE SHEET", "Admission Face Sheet"),
    "history_physical": ("History and Physical", "HISTORY AND PHYSICAL EXAMINATION"),
    "progress_note": ("Progress Note", "PROGRESS NOTE", "Daily Progress Note"),
    "consult_note": ("Consultation Note", "CONSULTATION REPORT", "Cardiology Consultation"),
    "discharge_summary": ("DISCHARGE SUMMARY", "Discharge Summary"),
    "operative_report": ("Operative Report", "OPERATIVE REPORT"),
    "lab_report": ("Laboratory Report", "LABORATORY RESULTS", "Clinical Laboratory Report"),
    "radiology_report": ("Radiology Report", "DIAGNOSTIC IMAGING REPORT"),
    "referral": ("Referral Letter", "REFERRAL FOR SPECIALIST CONSULTATION"),
    "consent_form": (
        "Informed Consent for Surgery",
        "Informed Consent for Anesthesia",
        "Informed Consent for Blood Transfusion",
    ),
    "prescription": ("Prescription", "PRESCRIPTION"),
    "insurance": ("Insurance Claim Form", "Insurance Verification"),
    "other": ("Patient Correspondence", "Appointment Reminder"),
}


def _banner(patient: FakePatient, rng: random.Random) -> tuple[_Item, ...]:
    p = patient
    variant = rng.randrange(3)
    if variant == 0:
        return (_Item("banner", (f"Patient: {p.last.upper()}, {p.first.upper()}   MRN: {p.mrn}   "
                                 f"DOB: {_us_date(p.dob)}",)),)  # fmt: skip
    if variant == 1:
        return (_Item("banner", (f"Name: {p.first} {p.last}   DOB: {p.dob.isoformat()}   "
                                 f"Sex: {p.sex}   MR#: {p.mrn}",)),)  # fmt: skip
    return (
        _Item("banner", (f"PATIENT NAME: {p.last.upper()}, {p.first.upper()}   MEDICAL RECORD NO: {p.mrn}",)),
        _Item("banner", (f"DATE OF BIRTH: {_us_date(p.dob)}   SEX: {p.sex}",)),
    )


def _face_sheet(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, code = rng.choice(_DIAGNOSES)
    admit = _service_date(rng)
    street = f"{rng.randint(10, 9999)} {rng.choice(('Birch', 'Oak', 'Elm', 'Pine', 'Cedar'))} Street"
    items = [
        _heading("Demographics"),
        _kv("Address", f"{street}, Springfield, OR 97477"),
        _kv("Home Phone", f"(541) 555-{rng.randint(100, 199):04d}"),
        _kv("Marital Status", rng.choice(("Single", "Married", "Widowed", "Divorced"))),
        _kv("Preferred Language", rng.choice(("English", "Spanish", "Vietnamese"))),
        _kv("Sex", p.sex if p else rng.choice("FM")),
        _BLANK,
        _heading("Admission"),
        _kv("Admission Date", _us_date(admit)),
        _kv("Admitting Physician", _doctor(rng)),
        _kv("Attending Physician", _doctor(rng)),
        _kv("Admitting Diagnosis", f"{dx} ({code})"),
        _kv("Room", f"{rng.randint(2, 6)}{rng.randint(10, 40)}-{rng.choice('AB')}"),
        _BLANK,
        _heading("Insurance"),
        _kv("Primary Insurance", rng.choice(_PAYERS)),
        _kv("Member ID", f"XJ{rng.randint(10**8, 10**9 - 1)}"),
        _kv("Group Number", f"{rng.randint(10000, 99999)}"),
        _BLANK,
        _heading("Emergency Contact"),
        _kv("Name", f"{rng.choice(_FEMALE_FIRST + _MALE_FIRST)} {rng.choice(_LAST)}"),
        _kv("Relationship", rng.choice(("Spouse", "Daughter", "Son", "Sister", "Friend"))),
        _kv("Phone", f"(541) 555-{rng.randint(200, 299):04d}"),
        _kv("Allergies", rng.choice(("No known drug allergies", "Penicillin", "Sulfa drugs", "Latex"))),
    ]
    return items


def _history_physical(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, _ = rng.choice(_DIAGNOSES)
    meds = rng.sample(_MEDS, 3)
    return [
        _kv("Date of Admission", _us_date(_service_date(rng))),
        _heading("CHIEF COMPLAINT"),
        _para(
            rng.choice(
                (
                    "Shortness of breath for three days.",
                    "Chest pain since this morning.",
                    "Fever and productive cough.",
                    "Right lower quadrant abdominal pain.",
                )
            )
        ),  # fmt: skip
        _heading("HISTORY OF PRESENT ILLNESS"),
        _para(
            f"The patient is a {rng.randint(25, 90)}-year-old with a history of {dx.lower()} who "
            f"presents to the emergency department. {_narrative(rng, 2)}"
        ),  # fmt: skip
        _heading("PAST MEDICAL HISTORY"),
        _para(", ".join(d for d, _ in rng.sample(_DIAGNOSES, 3)) + "."),
        _heading("MEDICATIONS"),
        *(_para(f"{m} {dose} daily.") for m, dose, _ in meds),
        _heading("ALLERGIES"),
        _para(rng.choice(("No known drug allergies.", "Penicillin causes rash."))),
        _heading("SOCIAL HISTORY"),
        _para("Denies tobacco use. Drinks alcohol occasionally. Lives with family."),
        _heading("PHYSICAL EXAMINATION"),
        _para(
            f"Vitals: BP {rng.randint(105, 165)}/{rng.randint(60, 95)}, HR {rng.randint(55, 110)}, "
            f"Temp {rng.uniform(36.4, 38.9):.1f} C, RR {rng.randint(12, 24)}, SpO2 {rng.randint(90, 99)}%."
        ),  # fmt: skip
        _para("General: alert and oriented, in no acute distress. Lungs: clear to auscultation."),
        _heading("ASSESSMENT AND PLAN"),
        _para(f"{dx}. {_narrative(rng, 2)}"),
    ]


def _progress_note(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, _ = rng.choice(_DIAGNOSES)
    return [
        _kv("Date of Service", _us_date(_service_date(rng))),
        _kv("Provider", _doctor(rng)),
        _heading("SUBJECTIVE"),
        _para(f"Patient seen for follow-up of {dx.lower()}. {_narrative(rng, 2)}"),
        _heading("OBJECTIVE"),
        _para(
            f"BP {rng.randint(105, 160)}/{rng.randint(60, 95)}, HR {rng.randint(55, 105)}, "
            f"weight {rng.randint(50, 120)} kg. Exam unremarkable except as noted."
        ),  # fmt: skip
        _heading("ASSESSMENT"),
        _para(f"{dx}, {rng.choice(('improving', 'stable', 'worsening'))}."),
        _heading("PLAN"),
        _para(f"Continue {rng.choice(_MEDS)[0]}. {_narrative(rng, 3)}"),
    ]


def _consult_note(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, _ = rng.choice(_DIAGNOSES)
    return [
        _kv("Date of Consultation", _us_date(_service_date(rng))),
        _kv("Requesting Physician", _doctor(rng)),
        _kv("Consultant", _doctor(rng)),
        _heading("REASON FOR CONSULTATION"),
        _para(f"Evaluation and management of {dx.lower()}."),
        _heading("HISTORY OF PRESENT ILLNESS"),
        _para(_narrative(rng, 3)),
        _heading("IMPRESSION"),
        _para(f"{dx}. {_narrative(rng, 1)}"),
        _heading("RECOMMENDATIONS"),
        _para(f"1. Start {rng.choice(_MEDS)[0]} at the usual dose."),
        _para("2. Repeat laboratory studies in the morning."),
        _para("3. We will follow along with you. Thank you for this consultation."),
    ]


def _discharge_summary(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, code = rng.choice(_DIAGNOSES)
    admit = _service_date(rng)
    meds = rng.sample(_MEDS, 3)
    return [
        _kv("Admission Date", _us_date(admit)),
        _kv("Discharge Date", _us_date(admit + dt.timedelta(days=rng.randint(1, 12)))),
        _kv("Attending Physician", _doctor(rng)),
        _heading("Discharge Diagnosis"),
        _para(f"{dx} ({code})."),
        _heading("Hospital Course"),
        _para(f"The patient was admitted with {dx.lower()} and treated accordingly. {_narrative(rng, 3)}"),
        _heading("Discharge Medications"),
        *(_para(f"{m} {dose}: {sig}.") for m, dose, sig in meds),
        _heading("Condition at Discharge"),
        _para(rng.choice(("Stable.", "Good, ambulating independently.", "Improved."))),
        _heading("Follow-up"),
        _para(f"Follow up with {_doctor(rng)} in {rng.randint(1, 4)} weeks."),
    ]


def _operative_report(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    proc = rng.choice(_PROCEDURES)
    return [
        _kv("Date of Surgery", _us_date(_service_date(rng))),
        _kv("Surgeon", _doctor(rng)),
        _kv("Assistant", _doctor(rng)),
        _kv("Anesthesia", rng.choice(("General endotracheal", "Spinal", "Monitored anesthesia care"))),
        _heading("PREOPERATIVE DIAGNOSIS"),
        _para(rng.choice(_DIAGNOSES)[0] + "."),
        _heading("PROCEDURE PERFORMED"),
        _para(proc[0].upper() + proc[1:] + "."),
        _heading("DESCRIPTION OF PROCEDURE"),
        _para(
            "The patient was brought to the operating room and placed in the supine position. "
            "After induction of anesthesia the operative site was prepped and draped in the usual "
            f"sterile fashion. A time-out was performed. The {proc} was completed without difficulty. "
            "The wound was irrigated and closed in layers."
        ),  # fmt: skip
        _kv("Estimated Blood Loss", f"{rng.choice((10, 25, 50, 100, 250))} mL"),
        _kv("Specimens", rng.choice(("None", "Sent to pathology"))),
        _kv("Complications", "None"),
        _para("The patient tolerated the procedure well and was taken to recovery in stable condition."),
    ]


def _lab_value(rng: random.Random, low: float, high: float, decimals: int) -> tuple[str, str]:
    span = high - low if high > low else high
    value = rng.uniform(low - 0.25 * span, high + 0.25 * span)
    value = max(value, 0.05 * high)
    flag = "H" if value > high else "L" if value < low else ""
    return f"{value:.{decimals}f}", flag


def _lab_report(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    collected = _service_date(rng)
    rows = []
    for name, unit, low, high, dec in rng.sample(_ANALYTES, 14):
        value, flag = _lab_value(rng, low, high, dec)
        ref = f"{low:.{dec}f}-{high:.{dec}f}" if low > 0 else f"<{high:.{dec}f}"
        rows.append(_row(name, f"{value} {flag}".strip(), unit, ref))
    return [
        _kv("Collected", f"{_us_date(collected)} 07:{rng.randint(10, 59)}"),
        _kv("Ordering Provider", _doctor(rng)),
        _kv("Specimen", "Blood, venous"),
        _BLANK,
        _Item("heading_row", ("Test", "Result", "Units", "Reference Range")),
        *rows,
        _BLANK,
        _para("H = above reference range, L = below reference range. Results verified by the laboratory."),
    ]


def _radiology_report(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    exam, technique = rng.choice(_EXAMS)
    return [
        _kv("Exam", exam),
        _kv("Date of Exam", _us_date(_service_date(rng))),
        _kv("Ordering Physician", _doctor(rng)),
        _heading("CLINICAL HISTORY"),
        _para(rng.choice(_DIAGNOSES)[0] + "."),
        _heading("TECHNIQUE"),
        _para(technique),
        _heading("COMPARISON"),
        _para(rng.choice(("None available.", f"Prior study dated {_us_date(_service_date(rng))}."))),
        _heading("FINDINGS"),
        _para(
            "No focal consolidation, pleural effusion or pneumothorax. The cardiomediastinal "
            "silhouette is within normal limits. No acute osseous abnormality is identified."
        ),  # fmt: skip
        _heading("IMPRESSION"),
        _para(
            rng.choice(
                (
                    "No acute abnormality.",
                    "Findings compatible with mild degenerative change.",
                    "Small nodule, recommend follow-up imaging in 12 months.",
                )
            )
        ),  # fmt: skip
        _para(f"Electronically signed by {_doctor(rng)}, MD"),
    ]


def _referral(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    name = f"{p.first} {p.last}" if p else "our mutual patient"
    dx, _ = rng.choice(_DIAGNOSES)
    return [
        _para(_us_date(_service_date(rng))),
        _BLANK,
        _para(f"Dear {_doctor(rng)},"),
        _para(f"I am referring {name} for specialist evaluation of {dx.lower()}. {_narrative(rng, 2)}"),
        _heading("Reason for Referral"),
        _para(f"Further evaluation and management of {dx.lower()}, which has not responded to treatment."),
        _heading("Current Medications"),
        _para(", ".join(f"{m} {d}" for m, d, _ in rng.sample(_MEDS, 3)) + "."),
        _para("Please do not hesitate to contact our office with any questions."),
        _BLANK,
        _para("Sincerely,"),
        _para(_doctor(rng)),
    ]


def _consent_form(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    proc = rng.choice(_PROCEDURES)
    doctor = _doctor(rng)
    return [
        _para(
            f"I hereby authorize {doctor} and such assistants as may be selected to perform the "
            f"following procedure: {proc}."
        ),  # fmt: skip
        _para(
            "The nature and purpose of the procedure, possible alternative methods of treatment, "
            "the risks involved and the possibility of complications have been explained to me."
        ),  # fmt: skip
        _para(
            "I understand that risks include bleeding, infection, reaction to anesthesia, injury to "
            "nearby structures and, rarely, death. No guarantee has been given as to the result."
        ),  # fmt: skip
        _para("I consent to the administration of anesthesia and to the disposal of any tissue removed."),
        _BLANK,
        _para("Patient Signature ______________________   Date __________"),
        _BLANK,
        _para("Witness Signature ______________________   Date __________"),
        _BLANK,
        _para(f"Physician: {doctor}"),
    ]


def _prescription(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    items = [_kv("Date", _us_date(_service_date(rng)))]
    for med, dose, sig in rng.sample(_MEDS, rng.randint(1, 3)):
        items += [
            _BLANK,
            _heading(f"Rx: {med} {dose} tablet"),
            _para(f"Sig: {sig}"),
            _para(f"Disp: #{rng.choice((30, 60, 90))}   Refills: {rng.randint(0, 5)}"),
        ]
    items += [
        _BLANK,
        _para(f"Prescriber: {_doctor(rng)}   NPI: {rng.randint(10**9, 2 * 10**9 - 1)}"),
        _para(f"DEA: B{rng.choice('FMRS')}{rng.randint(10**6, 10**7 - 1)}"),
        _para("Substitution permitted unless marked dispense as written."),
    ]
    return items


def _insurance(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    dx, code = rng.choice(_DIAGNOSES)
    return [
        _kv("Payer", rng.choice(_PAYERS)),
        _kv("Insured's ID Number", f"XJ{rng.randint(10**8, 10**9 - 1)}"),
        _kv("Group Number", f"{rng.randint(10000, 99999)}"),
        _kv("Policy Holder", "Self"),
        _BLANK,
        _Item("heading_row", ("Date of Service", "CPT", "ICD-10", "Charges")),
        *(
            _row(
                _us_date(_service_date(rng)),
                rng.choice(("99213", "99214", "80053", "71046")),
                code,
                f"${rng.randint(40, 900)}.00",
            )  # fmt: skip
            for _ in range(rng.randint(2, 5))
        ),
        _BLANK,
        _kv("Diagnosis", f"{dx} ({code})"),
        _kv("Eligibility", rng.choice(("Verified active coverage", "Coverage pending verification"))),
        _kv("Copay", f"${rng.choice((0, 15, 25, 40))}.00"),
        _kv("Deductible Remaining", f"${rng.randint(0, 2500)}.00"),
        _kv("Billing Provider", _doctor(rng)),
    ]


def _other(rng: random.Random, p: FakePatient | None) -> list[_Item]:
    salutation = f"Dear {'Ms.' if p and p.sex == 'F' else 'Mr.'} {p.last}," if p else "Dear Patient,"
    return [
        _para(_us_date(_service_date(rng))),
        _BLANK,
        _para(salutation),
        _para(
            "This letter is to remind you of your upcoming appointment at our office on "
            f"{_us_date(_service_date(rng))} at {rng.randint(8, 16)}:{rng.choice(('00', '15', '30', '45'))}."
        ),  # fmt: skip
        _para(
            "Please bring your insurance card, a photo identification and a list of your current "
            "medications. Arrive fifteen minutes early to complete any paperwork."
        ),  # fmt: skip
        _para("If you need to reschedule, please call our office at least 24 hours in advance."),
        _BLANK,
        _para("Sincerely,"),
        _para("The Front Desk Team"),
    ]


_BODIES: Final = {
    "face_sheet": _face_sheet,
    "history_physical": _history_physical,
    "progress_note": _progress_note,
    "consult_note": _consult_note,
    "discharge_summary": _discharge_summary,
    "operative_report": _operative_report,
    "lab_report": _lab_report,
    "radiology_report": _radiology_report,
    "referral": _referral,
    "consent_form": _consent_form,
    "prescription": _prescription,
    "insurance": _insurance,
    "other": _other,
}


def _extra_notes(rng: random.Random) -> list[_Item]:
    """Filler when more body lines are asked for than a document type naturally has."""
    return [_heading("Additional Notes"), _para(_narrative(rng, 4)), _para(_narrative(rng, 4))]


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True, slots=True)
class _Style:
    regular: ImageFont.FreeTypeFont
    bold: ImageFont.FreeTypeFont
    title: ImageFont.FreeTypeFont
    letterhead: ImageFont.FreeTypeFont
    size_px: int


@dataclass(frozen=True, slots=True)
class _Line:
    """A laid-out line: cells drawn at tab stops (fractions of the text width)."""

    style: str
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.cells).split())


_TABS: Final = (0.0, 0.38, 0.58, 0.76)


def _load_style(font: str, pt: float, dpi: int) -> _Style:
    regular_path, bold_path = FONTS[font]
    size_px = round(pt * dpi / 72)
    return _Style(
        regular=ImageFont.truetype(str(regular_path), size_px),
        bold=ImageFont.truetype(str(bold_path), size_px),
        title=ImageFont.truetype(str(bold_path), round(size_px * 1.45)),
        letterhead=ImageFont.truetype(str(bold_path), round(size_px * 1.2)),
        size_px=size_px,
    )


def _font_for(style: _Style, line_style: str) -> ImageFont.FreeTypeFont:
    if line_style == "title":
        return style.title
    if line_style == "letterhead":
        return style.letterhead
    if line_style in ("heading", "heading_row", "banner"):
        return style.bold
    return style.regular


def _wrap(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> list[str]:
    if not text or font.getlength(text) <= width_px:
        return [text]
    avg = font.getlength(text) / len(text)
    limit = max(10, int(width_px / avg))
    while limit > 10:
        parts = textwrap.wrap(text, limit)
        if all(font.getlength(part) <= width_px for part in parts):
            return parts
        limit -= 2
    return textwrap.wrap(text, limit)


def _layout(items: Sequence[_Item], style: _Style, width_px: float) -> list[_Line]:
    lines: list[_Line] = []
    for item in items:
        if item.style in ("row", "heading_row"):
            lines.append(_Line(item.style, item.cells))
            continue
        font = _font_for(style, item.style)
        lines.extend(_Line(item.style, (part,)) for part in _wrap(item.cells[0], font, width_px))
    return lines


def _line_height(style: _Style, line_style: str) -> int:
    scale = {"title": 2.3, "letterhead": 1.6, "heading": 1.4, "blank": 0.7}.get(line_style, 1.4)
    return round(style.size_px * scale)


def _extra_space(style: _Style, line_style: str) -> int:
    """Space above a line: headings and titles stand apart."""
    return round(style.size_px * {"heading": 0.4, "title": 0.6}.get(line_style, 0.0))


def _draw_page(lines: Sequence[_Line], style: _Style, size_px: tuple[int, int], margin: int) -> GrayImage:
    page = Image.new("L", size_px, 255)
    draw = ImageDraw.Draw(page)
    width = size_px[0] - 2 * margin
    y = margin
    for line in lines:
        y += _extra_space(style, line.style)
        height = _line_height(style, line.style)
        font = _font_for(style, line.style)
        if line.style == "title":
            x = margin + (width - font.getlength(line.cells[0])) / 2
            draw.text((x, y), line.cells[0], fill=0, font=font)
        elif line.style in ("row", "heading_row"):
            for tab, cell in zip(_TABS, line.cells, strict=False):
                draw.text((margin + tab * width, y), cell, fill=0, font=font)
        else:
            draw.text((margin, y), line.cells[0], fill=0, font=font)
        if line.style == "address":
            rule_y = y + round(style.size_px * 1.35)
            draw.line(
                (margin, rule_y, size_px[0] - margin, rule_y), fill=0, width=max(1, style.size_px // 12)
            )
        y += height
    return np.asarray(page, dtype=np.uint8).copy()


@dataclass(frozen=True, slots=True)
class SyntheticDoc:
    """A rendered synthetic document and the ground truth drawn on it.

    ``lines`` holds every non-empty text line drawn, in order, whitespace-normalised
    (single spaces; table cells joined by one space).
    """

    pages: tuple[GrayImage, ...]
    doc_type: str
    patient: FakePatient | None
    lines: tuple[str, ...]
    font: str


def _pick_font(font: str | None, rng: random.Random) -> str:
    if font is None:
        return rng.choice(sorted(FONTS))
    if font not in FONTS:
        msg = f"unknown font {font!r}; choose from {sorted(FONTS)}"
        raise ValueError(msg)
    return font


def _chunks(body: Sequence[_Line], per_page: int, pages: int) -> list[list[_Line]]:
    """Split the body into ``pages`` chunks of ``per_page`` text lines (blank spacers ride along)."""
    chunks: list[list[_Line]] = [[] for _ in range(pages)]
    index, count = 0, 0
    for line in body:
        if line.text and count == per_page:
            index, count = index + 1, 0
        if index == pages:
            break
        if line.text:
            count += 1
        if line.text or chunks[index]:  # no blank at the top of a chunk
            chunks[index].append(line)
    return chunks


def _content_height(lines: Sequence[_Line], style: _Style) -> int:
    return sum(_line_height(style, line.style) + _extra_space(style, line.style) for line in lines)


def _continuation(ident: str, index: int, pages: int, style: _Style, width: float) -> list[_Line]:
    """Header of pages after the first: who the page belongs to and its number."""
    return _layout([_Item("banner", (f"{ident}   Page {index + 1} of {pages}",)), _BLANK], style, width)


def render_document(
    doc_type: str,
    patient: FakePatient | None,
    *,
    seed: int = 0,
    dpi: int = 300,
    pages: int = 1,
    font: str | None = None,
    title: bool = True,
    body_lines: int | None = None,
    page_size: tuple[float, float] = (8.5, 11.0),
) -> SyntheticDoc:
    """Render a ``pages``-page document of ``doc_type`` for ``patient`` (None: no banner).

    ``body_lines`` is the number of body text lines per page (default: 18-28, seeded;
    ValueError when they do not fit). Later pages carry a continuation header with the
    patient and page number.
    """
    if doc_type not in _BODIES:
        msg = f"unknown doc_type {doc_type!r}; choose from {DOC_TYPES}"
        raise ValueError(msg)
    if pages < 1:
        msg = "pages must be >= 1"
        raise ValueError(msg)
    rng = random.Random(f"{doc_type}:{seed}")
    font_name = _pick_font(font, rng)
    pt = rng.choice((10.0, 10.5, 11.0, 12.0))
    style = _load_style(font_name, pt, dpi)
    size_px = (round(page_size[0] * dpi), round(page_size[1] * dpi))
    margin = round(0.8 * dpi)
    width = size_px[0] - 2 * margin
    per_page = body_lines if body_lines is not None else rng.randint(18, 28)

    facility, address = rng.choice(_FACILITIES)
    phone = f"Tel (555) {rng.randint(200, 899)}-{rng.randint(1000, 9999)}"
    header_items = [_Item("letterhead", (facility,)), _Item("address", (f"{address}   {phone}",))]
    if title:
        header_items.append(_Item("title", (rng.choice(_TITLES[doc_type]),)))
    if patient is not None:
        header_items.extend(_banner(patient, rng))
    header_items.append(_BLANK)

    body_items = _BODIES[doc_type](rng, patient)
    body = _layout(body_items, style, width)
    while sum(1 for line in body if line.text) < per_page * pages:
        body += _layout(_extra_notes(rng), style, width)
    header = _layout(header_items, style, width)

    ident = f"{patient.last}, {patient.first}   MRN {patient.mrn}" if patient else facility
    page_lines = [
        [*(header if index == 0 else _continuation(ident, index, pages, style, width)), *chunk]
        for index, chunk in enumerate(_chunks(body, per_page, pages))
    ]
    room = size_px[1] - 2 * margin
    if any(_content_height(lines, style) > room for lines in page_lines):
        msg = f"{per_page} body lines do not fit on a {page_size} page at {pt} pt"
        raise ValueError(msg)
    images = tuple(_draw_page(lines, style, size_px, margin) for lines in page_lines)
    text = tuple(line.text for lines in page_lines for line in lines if line.text)
    logger.debug("rendered %s (%d pages, font %s %.1fpt)", doc_type, pages, font_name, pt)
    return SyntheticDoc(pages=images, doc_type=doc_type, patient=patient, lines=text, font=font_name)


def render_page(
    doc_type: str,
    patient: FakePatient | None,
    *,
    seed: int = 0,
    dpi: int = 300,
    font: str | None = None,
    title: bool = True,
    body_lines: int | None = None,
    page_size: tuple[float, float] = (8.5, 11.0),
) -> GrayImage:
    """One upright page (uint8, dark text on white): the first page of :func:`render_document`."""
    doc = render_document(
        doc_type,
        patient,
        seed=seed,
        dpi=dpi,
        font=font,
        title=title,
        body_lines=body_lines,
        page_size=page_size,
    )
    return doc.pages[0]


# --------------------------------------------------------------------------- distortions


def distort(
    img: GrayImage,
    *,
    skew_degrees: float = 0.0,
    quarter_turns_ccw: int = 0,
    noise: float = 0.0,
    blur: int = 0,
    seed: int = 0,
) -> GrayImage:
    """Scanner-like copy of ``img``.

    Turns the content counter-clockwise (as seen on screen) by
    ``90 * quarter_turns_ccw + skew_degrees`` on an expanded white canvas, then applies a
    gaussian blur with kernel ``blur`` (made odd; 0 = none) and salt-and-pepper noise on
    a ``noise`` fraction of the pixels.
    """
    return scan_like(
        img, skew_degrees=skew_degrees, quarter_turns_ccw=quarter_turns_ccw, blur=blur, noise=noise, seed=seed
    )


# --------------------------------------------------------------------------- separator sheets

_BARCODE_FORMATS: Final = {
    "qr": zxingcpp.BarcodeFormat.QRCode,
    "code128": zxingcpp.BarcodeFormat.Code128,
    "code39": zxingcpp.BarcodeFormat.Code39,
}


def _barcode_symbol(code: str, kind: str, dpi: int) -> GrayImage:
    if kind not in _BARCODE_FORMATS:
        msg = f"unknown barcode kind {kind!r}; choose from {sorted(_BARCODE_FORMATS)}"
        raise ValueError(msg)
    barcode = zxingcpp.create_barcode(code, _BARCODE_FORMATS[kind])
    modules = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1), dtype=np.uint8)
    if kind == "qr":
        module_px = max(3, round(0.035 * dpi))  # ~0.9 mm modules
        return np.kron(modules, np.ones((module_px, module_px), dtype=np.uint8))
    row = modules[modules.shape[0] // 2]
    bar_px = max(2, round(0.02 * dpi))  # ~20 mil bars
    widened = np.repeat(row, bar_px)
    return np.tile(widened, (round(0.9 * dpi), 1))


def separator_sheet(code: str = "PATCHT", kind: str = "qr", dpi: int = 300) -> GrayImage:
    """A letter page with ``code`` as a QR / Code 128 / Code 39 symbol and "SEPARATOR SHEET"."""
    symbol = _barcode_symbol(code, kind, dpi)
    width, height = round(8.5 * dpi), round(11 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONTS["DejaVuSans"][1]), round(36 * dpi / 72))
    small = ImageFont.truetype(str(FONTS["DejaVuSans"][0]), round(18 * dpi / 72))
    heading = "SEPARATOR SHEET"
    draw.text(((width - font.getlength(heading)) / 2, round(1.5 * dpi)), heading, fill=0, font=font)
    top = round(3.2 * dpi)
    left = (width - symbol.shape[1]) // 2
    page.paste(Image.fromarray(symbol), (left, top))
    caption = f"{code}  -  insert before each new document"
    draw.text(
        ((width - small.getlength(caption)) / 2, top + symbol.shape[0] + dpi // 3),
        caption,
        fill=0,
        font=small,
    )
    return np.asarray(page, dtype=np.uint8).copy()


# --------------------------------------------------------------------------- writers


def _pil(img: GrayImage) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8))


def write_png(path: PathLike, img: GrayImage, dpi: int | None = 300) -> None:
    """PNG; ``dpi=None`` writes no resolution (pHYs) chunk."""
    if dpi is None:
        _pil(img).save(path, format="PNG")
    else:
        _pil(img).save(path, format="PNG", dpi=(dpi, dpi))


def write_jpeg(path: PathLike, img: GrayImage, dpi: int = 300, quality: int = 85) -> None:
    _pil(img).save(path, format="JPEG", dpi=(dpi, dpi), quality=quality)


def write_tiff(path: PathLike, imgs: Sequence[GrayImage], dpi: int = 300, group4: bool = False) -> None:
    """Multi-page TIFF: 8-bit deflate, or 1-bit CCITT Group 4 (threshold 128) when ``group4``."""
    if not imgs:
        msg = "write_tiff needs at least one page"
        raise ValueError(msg)
    if group4:
        pages = [_pil(img).convert("1", dither=Image.Dither.NONE) for img in imgs]
        compression = "group4"
    else:
        pages = [_pil(img) for img in imgs]
        compression = "tiff_deflate"
    first, *rest = pages
    first.save(
        path, format="TIFF", save_all=True, append_images=rest, compression=compression, dpi=(dpi, dpi)
    )


def write_pdf(path: PathLike, imgs: Sequence[GrayImage], dpi: int = 300, quality: int = 80) -> None:
    """Image-only multi-page PDF (grayscale JPEG pages, no text layer), page size from ``dpi``."""
    if not imgs:
        msg = "write_pdf needs at least one page"
        raise ValueError(msg)
    first, *rest = (_pil(img) for img in imgs)
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=float(dpi), quality=quality)
