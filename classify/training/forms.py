"""The training corpus: synthetic paperwork of the 13 document types, deterministic by seed.

Every document is drawn from the *training template family* below: for each type a pool
of titles and synonyms, section headings with their variants, sentence templates with
slots (diagnoses, medications, procedures, analytes, exams, payers...), shared clinical
filler, and random facilities, people, dates and layouts. Sections are picked and
shuffled, lengths vary from a few lines to two pages, and about one document in six has
no title line at all, so the model must learn the body as well as the title.

``bench/classify.py`` measures on a *separate* family (its own titles, headings,
sentences and layouts, written apart from this file and from ``tests/scans.py``).

All randomness comes from ``random.Random(f"{doc_type}:{seed}")``: a (type, seed) pair
always gives the same document, which is what makes ``make model`` reproducible.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.training.render import Block, Layout, random_layout, text_of

__all__ = ["CorpusDoc", "generate_document", "ocr_noise"]

NO_TITLE_SHARE: Final = 0.17


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


# --------------------------------------------------------------------------- shared pools

_FIRST: Final = (
    "Anna", "Brian", "Carmen", "Derek", "Elena", "Farid", "Gloria", "Henry", "Irene", "Jamal", "Keiko",
    "Luis", "Marta", "Nathan", "Olga", "Pedro", "Quinn", "Rosa", "Stefan", "Tanya", "Umar", "Vera",
    "Walter", "Xiomara", "Yusuf", "Zoe", "Beatrice", "Colin", "Dolores", "Ethan", "Fiona", "Gordon",
)  # fmt: skip
_LAST: Final = (
    "Abbott", "Baptiste", "Castillo", "Dunn", "Eriksen", "Foster", "Grant", "Hoffman", "Ibarra",
    "Jensen", "Kaplan", "Lowell", "Mahoney", "Nakamura", "Olsen", "Pruitt", "Quintero", "Reyes",
    "Schultz", "Tran", "Underwood", "Vasquez", "Whitaker", "Xu", "Yilmaz", "Zimmerman", "Becker",
    "Coleman", "Delgado", "Fitzgerald", "Gallagher", "Horvath", "Iqbal", "Kowalczyk", "Lindgren",
)  # fmt: skip
_PLACES: Final = (
    "Riverbend", "Lakeview", "St. Agnes", "Mercy", "Valley", "Summit", "Northwest", "Oak Hill",
    "Bayfront", "Prairie", "Granite", "Evergreen", "Sunrise", "Hillcrest", "Westbrook", "Kingsport",
    "Silver Lake", "Good Shepherd", "Three Rivers", "Meadowbrook", "Pine Bluff", "Harbor", "Redwood",
    "Clearwater", "St. Luke's", "Highland", "Cumberland", "Lincoln", "Fairmont", "Brookside",
)  # fmt: skip
_KINDS: Final = (
    "Hospital", "Medical Center", "Regional Medical Center", "Family Practice", "Clinic",
    "Health System", "Specialty Associates", "Surgical Center", "Community Hospital",
    "Physicians Group", "Health Partners", "Internal Medicine", "Medical Group", "Healthcare",
)  # fmt: skip
_CITIES: Final = (
    ("Dayton", "OH"), ("Fresno", "CA"), ("Macon", "GA"), ("Billings", "MT"), ("Erie", "PA"),
    ("Tulsa", "OK"), ("Salem", "OR"), ("Lowell", "MA"), ("Provo", "UT"), ("Mobile", "AL"),
    ("Wichita", "KS"), ("Duluth", "MN"), ("Reno", "NV"), ("Akron", "OH"), ("Toledo", "OH"),
)  # fmt: skip
_STREETS: Final = ("Main St", "Oak Avenue", "Elm Street", "Park Blvd", "Center Road", "Hospital Drive",
                   "Medical Parkway", "Lake Road", "Church Street", "Commerce Way")  # fmt: skip
_SPECIALTIES: Final = (
    "Cardiology", "Gastroenterology", "Nephrology", "Pulmonology", "Endocrinology", "Neurology",
    "Orthopedics", "Infectious Disease", "Hematology/Oncology", "Rheumatology", "Urology",
    "Dermatology", "General Surgery", "Psychiatry", "Otolaryngology", "Vascular Surgery",
)  # fmt: skip
_DIAGNOSES: Final = (
    ("community-acquired pneumonia", "J18.9"), ("essential hypertension", "I10"),
    ("type 2 diabetes mellitus", "E11.9"), ("acute on chronic systolic heart failure", "I50.23"),
    ("COPD exacerbation", "J44.1"), ("acute kidney injury", "N17.9"), ("urinary tract infection", "N39.0"),
    ("atrial fibrillation with rapid ventricular response", "I48.91"), ("cellulitis of the left leg", "L03.116"),
    ("osteoarthritis of the right knee", "M17.11"), ("acute appendicitis", "K35.80"),
    ("major depressive disorder", "F32.9"), ("symptomatic cholelithiasis", "K80.20"),
    ("acute pancreatitis", "K85.90"), ("deep vein thrombosis", "I82.409"), ("syncope", "R55"),
    ("chest pain, unspecified", "R07.9"), ("gastrointestinal bleed", "K92.2"), ("sepsis", "A41.9"),
    ("hypothyroidism", "E03.9"), ("iron deficiency anemia", "D50.9"), ("low back pain", "M54.5"),
    ("migraine without aura", "G43.009"), ("chronic kidney disease stage 3", "N18.30"),
    ("hip fracture", "S72.001A"), ("asthma exacerbation", "J45.901"), ("obstructive sleep apnea", "G47.33"),
)  # fmt: skip
_MEDS: Final = (
    ("lisinopril", "10 mg", "tablet"), ("metformin", "500 mg", "tablet"), ("atorvastatin", "40 mg", "tablet"),
    ("amlodipine", "5 mg", "tablet"), ("metoprolol tartrate", "25 mg", "tablet"), ("furosemide", "40 mg", "tablet"),
    ("amoxicillin", "500 mg", "capsule"), ("levothyroxine", "50 mcg", "tablet"), ("apixaban", "5 mg", "tablet"),
    ("sertraline", "50 mg", "tablet"), ("omeprazole", "20 mg", "capsule"), ("gabapentin", "300 mg", "capsule"),
    ("prednisone", "20 mg", "tablet"), ("cephalexin", "500 mg", "capsule"), ("hydrochlorothiazide", "25 mg", "tablet"),
    ("warfarin", "5 mg", "tablet"), ("insulin glargine", "100 units/mL", "pen"), ("albuterol HFA", "90 mcg", "inhaler"),
    ("tramadol", "50 mg", "tablet"), ("ondansetron", "4 mg", "tablet"), ("losartan", "50 mg", "tablet"),
    ("doxycycline", "100 mg", "capsule"), ("pantoprazole", "40 mg", "tablet"), ("tamsulosin", "0.4 mg", "capsule"),
)  # fmt: skip
_SIGS: Final = (
    "take 1 {form} by mouth once daily", "take 1 {form} by mouth twice daily", "take 1 {form} by mouth at bedtime",
    "take 1 {form} by mouth every 8 hours", "take 2 {form}s by mouth daily with food", "1 {form} PO BID",
    "1 {form} PO daily", "1 {form} PO q6h PRN pain", "take 1 {form} every morning", "1 {form} po TID x 10 days",
)  # fmt: skip
_PROCEDURES: Final = (
    "laparoscopic appendectomy", "laparoscopic cholecystectomy", "right total knee arthroplasty",
    "left total hip arthroplasty", "open reduction internal fixation of the right distal radius",
    "colonoscopy with polypectomy", "esophagogastroduodenoscopy with biopsy", "inguinal hernia repair with mesh",
    "cardiac catheterization", "carpal tunnel release", "excision of skin lesion", "cystoscopy",
    "arthroscopic partial meniscectomy", "thyroidectomy", "placement of tunneled central venous catheter",
)  # fmt: skip
_ANALYTES: Final = (
    ("WBC", "K/uL", 4.0, 11.0, 1), ("RBC", "M/uL", 4.2, 5.9, 2), ("Hemoglobin", "g/dL", 12.0, 17.5, 1),
    ("Hematocrit", "%", 36.0, 50.0, 1), ("MCV", "fL", 80.0, 100.0, 0), ("Platelet Count", "K/uL", 150.0, 400.0, 0),
    ("Sodium", "mmol/L", 135.0, 145.0, 0), ("Potassium", "mmol/L", 3.5, 5.1, 1), ("Chloride", "mmol/L", 98.0, 107.0, 0),
    ("Carbon Dioxide", "mmol/L", 22.0, 29.0, 0), ("BUN", "mg/dL", 7.0, 20.0, 0), ("Creatinine", "mg/dL", 0.6, 1.3, 2),
    ("Glucose", "mg/dL", 70.0, 99.0, 0), ("Calcium", "mg/dL", 8.5, 10.5, 1), ("Total Protein", "g/dL", 6.0, 8.3, 1),
    ("Albumin", "g/dL", 3.5, 5.0, 1), ("Total Bilirubin", "mg/dL", 0.1, 1.2, 1), ("ALT", "U/L", 7.0, 56.0, 0),
    ("AST", "U/L", 10.0, 40.0, 0), ("Alkaline Phosphatase", "U/L", 44.0, 147.0, 0), ("TSH", "uIU/mL", 0.4, 4.0, 2),
    ("Hemoglobin A1c", "%", 4.0, 5.6, 1), ("Total Cholesterol", "mg/dL", 125.0, 200.0, 0),
    ("LDL Cholesterol", "mg/dL", 0.0, 100.0, 0), ("HDL Cholesterol", "mg/dL", 40.0, 60.0, 0),
    ("Triglycerides", "mg/dL", 0.0, 150.0, 0), ("INR", "", 0.8, 1.2, 1), ("Magnesium", "mg/dL", 1.7, 2.2, 1),
    ("Troponin I", "ng/mL", 0.0, 0.04, 2), ("Lactate", "mmol/L", 0.5, 2.2, 1), ("Urine Specific Gravity", "", 1.005, 1.03, 3),
)  # fmt: skip
_PANELS: Final = (
    "Complete Blood Count", "Basic Metabolic Panel", "Comprehensive Metabolic Panel", "Lipid Panel",
    "Hepatic Function Panel", "Thyroid Panel", "Urinalysis", "Coagulation Studies", "Cardiac Markers",
)  # fmt: skip
_EXAMS: Final = (
    ("CT head without contrast", "brain"), ("CT chest with contrast", "chest"), ("CT abdomen and pelvis with contrast", "abdomen"),
    ("MRI lumbar spine without contrast", "spine"), ("MRI brain with and without contrast", "brain"),
    ("Chest X-ray PA and lateral", "chest"), ("X-ray left ankle 3 views", "bone"), ("Ultrasound right upper quadrant", "abdomen"),
    ("Renal ultrasound", "abdomen"), ("Bilateral lower extremity venous duplex", "vascular"),
    ("Screening mammogram bilateral", "breast"), ("CT angiogram chest", "chest"), ("X-ray right hip 2 views", "bone"),
    ("Nuclear medicine bone scan", "bone"), ("Echocardiogram transthoracic", "heart"),
)  # fmt: skip
_FINDINGS: Final[dict[str, tuple[str, ...]]] = {
    "brain": (
        "No acute intracranial hemorrhage, mass effect or midline shift.",
        "The ventricles and sulci are normal in size for age.",
        "Mild periventricular white matter hypodensities, likely chronic small vessel ischemic change.",
    ),
    "chest": (
        "The lungs are clear without focal consolidation.",
        "There is a small right pleural effusion.",
        "The cardiomediastinal silhouette is within normal limits.",
        "Patchy opacity in the left lower lobe.",
        "No pneumothorax is seen.",
    ),
    "abdomen": (
        "The liver is normal in size and echotexture.",
        "Multiple gallstones without gallbladder wall thickening.",
        "No hydronephrosis or renal calculi.",
        "The appendix is dilated with periappendiceal fat stranding.",
        "No free fluid or free air.",
    ),
    "spine": (
        "Mild disc desiccation at L4-L5 with a small central disc protrusion.",
        "No high-grade spinal canal stenosis.",
        "Vertebral body heights are maintained.",
    ),
    "bone": (
        "No acute fracture or dislocation.",
        "Soft tissue swelling over the lateral malleolus.",
        "Degenerative joint space narrowing.",
    ),
    "vascular": (
        "Normal compressibility of the common femoral and popliteal veins.",
        "Occlusive thrombus in the left popliteal vein.",
    ),
    "breast": (
        "The breasts are heterogeneously dense.",
        "No suspicious mass, calcification or architectural distortion.",
    ),
    "heart": (
        "Left ventricular ejection fraction is estimated at 55 percent.",
        "No significant valvular disease.",
    ),
}
_PAYERS: Final = (
    "Blue Meadow Health Plan", "Evergreen Mutual", "Keystone Care Alliance", "Medicare Part B", "State Medicaid",
    "United Harbor Insurance", "Cascade Health Assurance", "Liberty Shield PPO", "Frontier Benefit Trust", "Tricounty HMO",
)  # fmt: skip
_CLINICAL_FILLER: Final = (
    "Records from the outside facility were reviewed.", "The patient's daughter was present for the visit.",
    "An interpreter was used for this encounter.", "Medication list reconciled with the patient.",
    "The patient has no known drug allergies.", "Tobacco cessation was discussed.",
    "Case discussed with the nursing staff.", "Old records requested from the primary care office.",
    "Code status: full code.", "The patient is a reliable historian.",
)  # fmt: skip


class _Gen:
    """Random draws for one document."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.patient = (rng.choice(_LAST), rng.choice(_FIRST))
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
        return f"{self.pick(_FIRST)} {self.pick(_LAST)}"

    def doctor(self) -> str:
        name = self.person()
        return self.pick(
            (f"Dr. {name}", f"{name}, MD", f"{name}, DO", f"{name} MD", f"{name}, NP", f"{name}, PA-C")
        )

    def diagnosis(self) -> str:
        name, code = self.rng.choice(_DIAGNOSES)
        return self.pick((name, f"{name} ({code})", name.capitalize(), f"{code} {name}"))

    def med(self) -> tuple[str, str, str]:
        return self.rng.choice(_MEDS)

    def med_line(self) -> str:
        name, dose, form = self.med()
        sig = self.pick(_SIGS).format(form=form)
        return self.pick(
            (f"{name.capitalize()} {dose} {sig}", f"{name} {dose} - {sig}", f"{name.upper()} {dose} {sig}")
        )

    def procedure(self) -> str:
        return self.pick(_PROCEDURES)

    def vitals(self) -> str:
        r = self.rng
        return self.pick(
            (
                f"BP {r.randint(100, 170)}/{r.randint(55, 100)}, HR {r.randint(55, 115)}, RR {r.randint(12, 24)}, "
                f"T {r.choice(('36.8', '37.2', '98.6', '99.1', '100.4'))}, SpO2 {r.randint(89, 100)}%",
                f"Temp {r.choice(('98.2', '98.9', '101.2'))} F  Pulse {r.randint(55, 115)}  Resp {r.randint(12, 24)}  "
                f"BP {r.randint(100, 170)}/{r.randint(55, 100)}  O2 sat {r.randint(89, 100)}% on room air",
            )
        )

    def facility(self) -> tuple[str, str]:
        name = f"{self.pick(_PLACES)} {self.pick(_KINDS)}"
        city, state = self.rng.choice(_CITIES)
        address = f"{self.rng.randint(10, 9999)} {self.pick(_STREETS)}, {city}, {state} {self.rng.randint(10000, 99999)}"
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
    contact = g.pick(
        (f"Phone {g.phone()}", f"Tel {g.phone()}  Fax {g.phone()}", f"P: {g.phone()} F: {g.phone()}")
    )
    blocks.append(Block("address", (g.pick((f"{address}   {contact}", address)),)))
    if g.chance(0.3):
        blocks.append(
            Block("address", (g.pick(("Department of ", "Division of ", "")) + g.pick(_SPECIALTIES),))
        )
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
    options = [
        f"Electronically signed by {g.doctor()} on {g.date(1)} {g.time()}",
        f"Page 1 of {g.rng.randint(1, 3)}",
        "CONFIDENTIAL: This document contains protected health information.",
        f"Printed {g.date(2)} {g.time()} by {g.pick(_FIRST).lower()}{g.rng.randint(1, 99)}",
        f"Dictated by: {g.doctor()}  Transcribed: {g.date(1)}",
        "",
    ]
    return [Block("blank", ("",))] + [_p(t) for t in g.some(options, 0, 2) if t]


# --------------------------------------------------------------------------- titles


def _specialty_title(g: _Gen, words: Sequence[str]) -> str:
    return f"{g.pick(_SPECIALTIES)} {g.pick(words)}"


_TITLES: Final[dict[str, tuple[str, ...]]] = {
    "face_sheet": (
        "Face Sheet", "Patient Face Sheet", "Admission Face Sheet", "Registration Face Sheet", "Patient Registration",
        "Registration Record", "Demographic Sheet", "Patient Demographics", "Admission Record",
        "Patient Information Sheet", "Inpatient Face Sheet", "Facesheet", "Registration Form", "Patient Registration Form",
    ),
    "history_physical": (
        "History and Physical", "History & Physical", "H&P", "Admission History and Physical", "Admission H&P",
        "History and Physical Examination", "Initial History and Physical", "Preoperative History and Physical",
        "Admission Note", "Hospital Admission Note", "Admitting History and Physical", "Pre-Op H&P",
    ),
    "progress_note": (
        "Progress Note", "Daily Progress Note", "SOAP Note", "Hospitalist Progress Note", "Interval Note",
        "Follow-up Visit", "Office Visit Note", "Clinic Note", "Physician Progress Note", "Subsequent Hospital Care",
        "Outpatient Follow-Up Note", "Visit Note", "Progress Notes",
    ),
    "consult_note": (
        "Consultation", "Consultation Note", "Consult Note", "Consultation Report", "Inpatient Consultation",
        "New Patient Consultation", "Specialist Consultation", "Initial Consultation", "Consultation Summary",
    ),
    "discharge_summary": (
        "Discharge Summary", "Hospital Discharge Summary", "Discharge Note", "Discharge Report",
        "Inpatient Discharge Summary", "Discharge Summary - Final", "Physician Discharge Summary",
        "Discharge/Transfer Summary", "Discharge Summary Report",
    ),
    "operative_report": (
        "Operative Report", "Operative Note", "Procedure Note", "Op Note", "Operation Report", "Brief Operative Note",
        "Surgical Report", "Procedure Report", "Operative Procedure Report", "Report of Operation", "Surgery Report",
    ),
    "lab_report": (
        "Laboratory Report", "Lab Report", "Laboratory Results", "Lab Results", "Clinical Laboratory Report",
        "Cumulative Lab Report", "Hematology Report", "Chemistry Report", "Test Results", "Final Laboratory Report",
        "Laboratory Test Results",
    ),
    "radiology_report": (
        "Radiology Report", "Imaging Report", "Diagnostic Imaging Report", "CT Report", "MRI Report",
        "X-Ray Report", "Ultrasound Report", "Mammography Report", "Radiology Final Report", "Imaging Results",
    ),
    "referral": (
        "Referral", "Referral Form", "Referral Letter", "Referral Request", "Letter of Referral", "Specialist Referral",
        "Outpatient Referral", "Referral Authorization Form", "Patient Referral", "Provider Referral Form",
    ),
    "consent_form": (
        "Informed Consent", "Consent Form", "Consent for Surgery", "Consent for Procedure", "Consent for Anesthesia",
        "Consent for Blood Transfusion", "Authorization to Release Health Information", "Consent to Treatment",
        "Informed Consent for Operation", "Procedure Consent", "Consent for Sedation", "General Consent for Treatment",
    ),
    "prescription": (
        "Prescription", "Rx", "Prescription Order", "Medication Prescription", "New Prescription",
        "Outpatient Prescription", "Prescription Form", "Controlled Substance Prescription",
    ),
    "insurance": (
        "Insurance Verification", "Insurance Card", "Explanation of Benefits", "Eligibility Verification",
        "Prior Authorization Request", "Insurance Information", "Claim Form", "Benefits Summary",
        "Health Insurance Claim", "Coverage Verification", "Member ID Card", "Prior Authorization Determination",
    ),
    "other": (
        "Fax Cover Sheet", "Appointment Reminder", "Correspondence", "Patient Letter", "Notice",
        "Request for Records", "Fax Transmittal", "Patient Education", "Memo", "Office Notice", "Message",
    ),
}  # fmt: skip


def _plain_title(doc_type: str) -> Callable[[_Gen], str]:
    return lambda g: g.pick(_TITLES[doc_type])


_TITLE_MAKERS: Final[dict[str, Callable[[_Gen], str]]] = {t: _plain_title(t) for t in DOC_TYPES} | {
    "consult_note": lambda g: (
        g.pick(_TITLES["consult_note"])
        if g.chance(0.6)
        else _specialty_title(g, ("Consultation", "Consult", "Consult Note"))
    ),
    "lab_report": lambda g: g.pick(_TITLES["lab_report"]) if g.chance(0.7) else g.pick(_PANELS),
    "radiology_report": lambda g: (
        g.pick(_TITLES["radiology_report"]) if g.chance(0.7) else g.rng.choice(_EXAMS)[0].upper()
    ),
}


# --------------------------------------------------------------------------- bodies


def _face_sheet_grid(g: _Gen) -> list[Block]:
    """Registration systems' printouts: a grid of abbreviated labels, two pairs a row."""
    last, first = g.patient
    city, state = g.rng.choice(_CITIES)
    pairs = [
        (g.pick(("PT NAME", "PATIENT", "NAME (LAST, FIRST)")), f"{last.upper()}, {first.upper()}"),
        (
            g.pick(("ADDR", "HOME ADDRESS", "RESIDENCE")),
            f"{g.rng.randint(10, 9999)} {g.pick(_STREETS).upper()}",
        ),
        (g.pick(("CITY/ST", "CITY STATE ZIP")), f"{city.upper()} {state} {g.rng.randint(10000, 99999)}"),
        (g.pick(("HM PH", "TEL", "HOME TEL")), g.phone()),
        (g.pick(("SEX", "GENDER")), g.sex),
        (g.pick(("M/S", "MARITAL", "MAR STAT")), g.pick(("M", "S", "W", "D"))),
        (g.pick(("REL", "RELIGION")), g.pick(("CATH", "PROT", "NONE", "UNK"))),
        (g.pick(("RACE/ETH", "ETHNIC")), g.pick(("W/NH", "B/NH", "A/NH", "UNK"))),
        (g.pick(("EMPLOYER", "EMPL", "OCCUPATION")), g.pick(("RETIRED", "SELF", "CITY TRANSIT", "NONE"))),
        (g.pick(("NOK", "NEXT OF KIN", "CONTACT")), g.person().upper()),
        (g.pick(("NOK REL", "RELATION", "RELATIONSHIP")), g.pick(("SPOUSE", "SON", "DTR", "FRIEND"))),
        (g.pick(("NOK PH", "CONTACT PHONE")), g.phone()),
        (g.pick(("GUAR", "GUARANTOR", "RESP PARTY")), g.pick(("SELF", g.person().upper()))),
        (g.pick(("INS 1", "PRIMARY INS", "PRI PAYOR")), g.pick(_PAYERS).upper()),
        (g.pick(("POL#", "POLICY", "ID#")), f"{g.rng.randint(10**7, 10**9)}"),
        (g.pick(("INS 2", "SEC INS", "SEC PAYOR")), g.pick(("NONE", *_PAYERS)).upper()),
        (g.pick(("ACCT#", "ACCOUNT", "FIN#", "ENC#")), str(g.rng.randint(10**6, 10**9))),
        (g.pick(("ADM DT", "ADMIT", "REG DATE")), g.date()),
        (g.pick(("ADM TYPE", "PT TYPE", "PATIENT CLASS")), g.pick(("INPT", "OBS", "ER", "OUTPT", "SDS"))),
        (g.pick(("ADM SRC", "SOURCE")), g.pick(("ER", "PHYS REF", "TRANSFER", "HOME"))),
        (g.pick(("RM/BED", "LOC", "UNIT/RM")), f"{g.rng.randint(2, 9)}W-{g.rng.randint(1, 40)}"),
        (g.pick(("ATT DR", "ATTENDING", "ATT MD")), g.doctor().upper()),
        (g.pick(("PCP", "FAMILY MD", "REF DR")), g.doctor().upper()),
        (g.pick(("ADM DX", "REASON", "CC")), g.diagnosis().upper()),
    ]
    chosen = [pairs[0], *g.rng.sample(pairs[1:], g.rng.randint(10, len(pairs) - 1))]
    rows = [_row(a, b, c, d) for (a, b), (c, d) in zip(chosen[::2], chosen[1::2], strict=False)]
    if g.chance(0.5):
        rows.insert(0, _h(g.pick(("PATIENT DATA", "REGISTRATION DATA", "ENCOUNTER INFORMATION", "ADT"))))
    return rows


def _face_sheet(g: _Gen) -> list[Block]:
    if g.chance(0.35):
        return _face_sheet_grid(g)
    last, first = g.patient
    city, state = g.rng.choice(_CITIES)
    sections: list[list[Block]] = [
        [
            _h(g.pick(("Patient Information", "Patient Demographics", "Demographics", "Patient"))),
            _f("Name", f"{last}, {first}"),
            _f("Address", f"{g.rng.randint(10, 9999)} {g.pick(_STREETS)}"),
            _f("City/State/Zip", f"{city}, {state} {g.rng.randint(10000, 99999)}"),
            _f(g.pick(("Home Phone", "Phone", "Primary Phone")), g.phone()),
            _f("Sex", g.sex),
            _f("Marital Status", g.pick(("Single", "Married", "Widowed", "Divorced", "Separated"))),
            *g.rng.sample(
                [
                    _f("Race", g.pick(("White", "Black", "Asian", "Other", "Declined"))),
                    _f("Ethnicity", g.pick(("Hispanic", "Not Hispanic", "Unknown"))),
                    _f(
                        g.pick(("Language", "Preferred Language")),
                        g.pick(("English", "Spanish", "Polish", "Tagalog")),
                    ),
                    _f(
                        "Religion", g.pick(("Catholic", "Protestant", "None", "Jewish", "Muslim", "Declined"))
                    ),
                    _f("SSN", f"XXX-XX-{g.rng.randint(1000, 9999)}"),
                    _f("Email", f"{first.lower()}.{last.lower()}@example.com"),
                ],
                g.rng.randint(2, 5),
            ),
        ],
        [
            _h(
                g.pick(
                    (
                        "Emergency Contact",
                        "Next of Kin",
                        "Contact Information",
                        "Emergency Contact / Next of Kin",
                    )
                )
            ),
            _f("Name", g.person()),
            _f(
                "Relationship", g.pick(("Spouse", "Daughter", "Son", "Mother", "Friend", "Brother", "Sister"))
            ),
            _f("Phone", g.phone()),
        ],
        [
            _h(g.pick(("Guarantor", "Guarantor Information", "Responsible Party"))),
            _f("Guarantor", g.pick(("Self", g.person()))),
            _f(
                "Employer",
                g.pick(("Retired", "Self-employed", "County Schools", "Unemployed", "Acme Logistics")),
            ),
            _f("Guarantor Phone", g.phone()),
        ],
        [
            _h(g.pick(("Insurance", "Insurance Information", "Coverage"))),
            _f("Primary Insurance", g.pick(_PAYERS)),
            _f("Policy #", f"{g.pick('ABCDWXYZ')}{g.rng.randint(10**7, 10**9)}"),
            _f("Group #", str(g.rng.randint(1000, 99999))),
            _f("Secondary Insurance", g.pick(("None", *_PAYERS))),
        ],
        [
            _h(g.pick(("Admission Information", "Visit Information", "Encounter", "Account Information"))),
            _f(
                g.pick(("Account Number", "Account #", "Visit #", "Encounter #")),
                str(g.rng.randint(10**6, 10**9)),
            ),
            _f(g.pick(("Admit Date", "Admission Date/Time", "Registration Date")), f"{g.date()} {g.time()}"),
            _f("Admission Type", g.pick(("Emergency", "Elective", "Urgent", "Observation", "Outpatient"))),
            _f(g.pick(("Attending Physician", "Admitting Physician")), g.doctor()),
            _f(g.pick(("Primary Care Physician", "PCP")), g.doctor()),
            _f(g.pick(("Room/Bed", "Unit")), f"{g.rng.randint(2, 9)}{g.rng.randint(10, 60)}-{g.pick('AB')}"),
            _f(g.pick(("Admitting Diagnosis", "Reason for Visit", "Chief Complaint")), g.diagnosis()),
            _f("Financial Class", g.pick(("Commercial", "Medicare", "Medicaid", "Self Pay"))),
        ],
    ]
    chosen = [sections[0], *g.rng.sample(sections[1:], g.rng.randint(2, 4))]
    g.rng.shuffle(chosen)
    return [b for section in chosen for b in section]


def _hp(g: _Gen) -> list[Block]:
    age = g.rng.randint(19, 95)
    dx = g.diagnosis()
    sections: list[tuple[str, list[Block]]] = [
        (
            "cc",
            [
                _h(g.pick(("Chief Complaint", "CC", "Reason for Admission"))),
                _p(
                    g.pick(
                        (
                            "Shortness of breath.",
                            "Chest pain.",
                            "Abdominal pain for 2 days.",
                            "Fever and cough.",
                            "Fall at home.",
                            "Weakness.",
                            "Leg swelling.",
                            "Confusion.",
                        )
                    )
                ),
            ],
        ),
        (
            "hpi",
            [
                _h(g.pick(("History of Present Illness", "HPI", "History of the Present Illness"))),
                _p(
                    f"{g.pick(('The patient is a', 'This is a', 'Patient is a', 'A'))} {age}-year-old "
                    f"{g.pick(('man', 'woman', 'male', 'female'))} with a history of {g.diagnosis()} who presents with "
                    f"{g.pick(('worsening dyspnea', 'acute onset chest pressure', 'nausea and vomiting', 'productive cough', 'right lower quadrant pain'))} "
                    f"for {g.rng.randint(1, 14)} days. "
                    + _sentences(
                        g,
                        (
                            "Symptoms began gradually and have progressively worsened.",
                            "He denies fever or chills.",
                            "She reports decreased oral intake.",
                            "In the emergency department the patient was given IV fluids.",
                            "Initial labs were notable for leukocytosis.",
                            "No recent travel or sick contacts.",
                            "The patient was admitted for further evaluation and management.",
                        ),
                        1,
                        4,
                    )
                ),
            ],
        ),
        (
            "pmh",
            [
                _h(g.pick(("Past Medical History", "PMH", "Medical History"))),
                _p(", ".join(g.diagnosis() for _ in range(g.rng.randint(1, 4)))),
            ],
        ),
        (
            "psh",
            [
                _h(g.pick(("Past Surgical History", "PSH", "Surgical History"))),
                _p(
                    g.pick(
                        (
                            "None.",
                            f"{g.procedure().capitalize()} in {g.rng.randint(1980, 2020)}.",
                            "Appendectomy, tonsillectomy.",
                        )
                    )
                ),
            ],
        ),
        (
            "meds",
            [
                _h(
                    g.pick(
                        (
                            "Medications",
                            "Home Medications",
                            "Current Medications",
                            "Medications Prior to Admission",
                        )
                    )
                ),
                *[_p(g.med_line()) for _ in range(g.rng.randint(1, 5))],
            ],
        ),
        (
            "allergies",
            [
                _h("Allergies"),
                _p(g.pick(("NKDA", "No known drug allergies.", "Penicillin (rash)", "Sulfa - hives"))),
            ],
        ),
        (
            "fh",
            [
                _h(g.pick(("Family History", "FH"))),
                _p(
                    g.pick(
                        (
                            "Father with coronary artery disease.",
                            "Mother with diabetes and breast cancer.",
                            "Noncontributory.",
                            "No family history of colon cancer.",
                        )
                    )
                ),
            ],
        ),
        (
            "sh",
            [
                _h(g.pick(("Social History", "SH"))),
                _p(
                    g.pick(
                        (
                            "Former smoker, quit 10 years ago. Occasional alcohol.",
                            "Lives with spouse. Denies tobacco, alcohol or drug use.",
                            "Retired teacher. Never smoker.",
                            "Smokes 1 pack per day. Drinks 2 beers daily.",
                        )
                    )
                ),
            ],
        ),
        (
            "ros",
            [
                _h(g.pick(("Review of Systems", "ROS"))),
                _p(
                    g.pick(
                        (
                            "A complete 12-point review of systems was negative except as noted in the HPI.",
                            "Constitutional: positive for fatigue. Respiratory: positive for cough. Cardiovascular: negative. GI: negative.",
                            "Negative for headache, vision change, chest pain, dysuria or rash.",
                        )
                    )
                ),
            ],
        ),
        (
            "exam",
            [
                _h(g.pick(("Physical Examination", "Physical Exam", "Exam", "PE"))),
                _f(g.pick(("Vitals", "Vital Signs", "VS")), g.vitals()),
                *[
                    _f(k, v)
                    for k, v in g.rng.sample(
                        [
                            (
                                "General",
                                g.pick(
                                    (
                                        "Alert, oriented, in no acute distress.",
                                        "Ill-appearing, mildly diaphoretic.",
                                    )
                                ),
                            ),
                            ("HEENT", "Normocephalic, atraumatic. Mucous membranes moist."),
                            ("Neck", "Supple, no JVD."),
                            (
                                "Lungs",
                                g.pick(("Clear to auscultation bilaterally.", "Crackles at the right base.")),
                            ),
                            (
                                "Heart",
                                g.pick(
                                    ("Regular rate and rhythm, no murmurs.", "Irregularly irregular rhythm.")
                                ),
                            ),
                            (
                                "Abdomen",
                                g.pick(
                                    (
                                        "Soft, nontender, nondistended.",
                                        "Tender in the right lower quadrant with guarding.",
                                    )
                                ),
                            ),
                            ("Extremities", g.pick(("No edema.", "2+ pitting edema bilaterally."))),
                            ("Neuro", "Cranial nerves II-XII intact, strength 5/5 throughout."),
                            ("Skin", "Warm and dry, no rashes."),
                        ],
                        g.rng.randint(3, 8),
                    )
                ],
            ],
        ),
        (
            "data",
            [
                _h(g.pick(("Laboratory Data", "Labs", "Data", "Diagnostic Data"))),
                _p(
                    f"WBC {g.rng.randint(4, 19)}.{g.rng.randint(0, 9)}, hemoglobin {g.rng.randint(8, 16)}.{g.rng.randint(0, 9)}, "
                    f"creatinine {g.rng.randint(0, 3)}.{g.rng.randint(1, 9)}. {g.pick(('Chest x-ray shows no infiltrate.', 'ECG: sinus rhythm.', 'CT pending.'))}"
                ),
            ],
        ),
        (
            "ap",
            [
                _h(g.pick(("Assessment and Plan", "Assessment/Plan", "A/P", "Impression and Plan"))),
                _p(
                    f"{age}-year-old with {dx}. "
                    + _sentences(
                        g,
                        (
                            "Admit to medicine.",
                            "Start IV antibiotics.",
                            "Telemetry monitoring.",
                            "Serial troponins.",
                            "DVT prophylaxis with heparin.",
                            "Consult cardiology.",
                            "Continue home medications except as noted.",
                            "Diet as tolerated.",
                            "Physical therapy evaluation.",
                            "Will reassess in the morning.",
                        ),
                        2,
                        5,
                    )
                ),
            ],
        ),
    ]
    keep = {"hpi", "ap"} | set(g.some([k for k, _ in sections], 4, 10))
    body = [b for key, blocks in sections if key in keep for b in blocks]
    if g.chance(0.3):
        body.insert(g.rng.randint(0, len(body)), _p(g.pick(_CLINICAL_FILLER)))
    return body


def _progress(g: _Gen) -> list[Block]:
    dx = g.diagnosis()
    soap = g.chance(0.5)
    subj = g.pick((
        "Patient feels better today.", "No acute events overnight.", "Reports improved breathing, slept well.",
        "Complains of mild incisional pain, tolerating diet.", "Still having some nausea, no vomiting.",
        "Here for follow-up of blood pressure; doing well on current medication.",
        "Returns for recheck of diabetes; checking sugars twice daily.", "Pain is 3/10, ambulating in the hallway.",
    ))  # fmt: skip
    obj = f"{g.vitals()}. " + g.pick(
        (
            "Lungs clear.",
            "Incision clean, dry and intact.",
            "Abdomen soft.",
            "No edema.",
            "Alert and oriented x3.",
        )
    )
    assess = f"{dx}, {g.pick(('improving', 'stable', 'slowly improving', 'unchanged', 'resolving', 'well controlled'))}."
    plan = _sentences(g, (
        "Continue current antibiotics.", "Advance diet as tolerated.", "Increase lisinopril to 20 mg daily.",
        "Recheck BMP in the morning.", "Wean oxygen.", "Ambulate with physical therapy.", "Likely discharge tomorrow.",
        "Return to clinic in 3 months.", "Continue current regimen.", "Follow up labs next visit.", "Diuresis with IV furosemide.",
    ), 2, 4)  # fmt: skip
    if soap:
        body = [
            _p(f"{g.pick(('S:', 'Subjective:', 'S -', 'SUBJECTIVE'))} {subj}"),
            _p(f"{g.pick(('O:', 'Objective:', 'O -', 'OBJECTIVE'))} {obj}"),
            _p(f"{g.pick(('A:', 'Assessment:', 'A -', 'ASSESSMENT'))} {assess}"),
            _p(f"{g.pick(('P:', 'Plan:', 'P -', 'PLAN'))} {plan}"),
        ]
    else:
        body = [
            _h(g.pick(("Interval History", "Subjective", "Events", "Overnight Events", "History"))),
            _p(
                subj
                + " "
                + _sentences(
                    g,
                    (
                        "Tolerating diet.",
                        "Afebrile overnight.",
                        "Denies chest pain.",
                        "Family at bedside.",
                        "Voiding without difficulty.",
                    ),
                    0,
                    2,
                )
            ),
            _h(g.pick(("Objective", "Exam", "Physical Exam", "Vitals and Exam"))),
            _p(obj),
            _h(g.pick(("Assessment and Plan", "Assessment / Plan", "Impression and Plan", "Plan"))),
            _p(f"{assess} {plan}"),
        ]
    if g.chance(0.5):
        body.insert(
            0,
            _f(
                g.pick(("Date of Service", "Visit Date", "Hospital Day", "Post-op Day")),
                g.pick((g.date(), f"#{g.rng.randint(1, 9)}", g.date())),
            ),
        )
    if g.chance(0.4):
        body.insert(g.rng.randint(1, len(body)), _f(g.pick(("Current Medications", "Meds")), g.med_line()))
    if g.chance(0.4):
        body.append(_p(g.pick(_CLINICAL_FILLER)))
    if g.chance(0.3):
        body.append(_p(f"Time spent: {g.rng.randint(15, 45)} minutes, more than half in counseling."))
    return body


def _consult(g: _Gen) -> list[Block]:
    requester = g.doctor()
    specialty = g.pick(_SPECIALTIES)
    dx = g.diagnosis()
    sections: list[tuple[str, list[Block]]] = [
        (
            "who",
            [
                _f(
                    g.pick(
                        (
                            "Requesting Physician",
                            "Requested by",
                            "Referring Physician",
                            "Consult requested by",
                        )
                    ),
                    requester,
                ),
                _f(g.pick(("Consultant", "Consulting Service", "Service")), f"{specialty}"),
            ],
        ),
        (
            "why",
            [
                _h(g.pick(("Reason for Consultation", "Reason for Consult", "Consult Question"))),
                _p(
                    g.pick(
                        (
                            f"Evaluation of {dx}.",
                            f"Please evaluate for {dx}.",
                            f"Management recommendations for {dx}.",
                            f"Asked to see the patient regarding {dx}.",
                        )
                    )
                ),
            ],
        ),
        (
            "intro",
            [
                _p(
                    g.pick(
                        (
                            f"I was asked by {requester} to evaluate this patient for {dx}.",
                            f"Thank you for asking us to see this {g.rng.randint(20, 90)}-year-old regarding {dx}.",
                            f"We were consulted by the primary team for {dx}.",
                            f"Thank you for the opportunity to participate in the care of this patient with {dx}.",
                        )
                    )
                )
            ],
        ),
        (
            "hpi",
            [
                _h(g.pick(("History of Present Illness", "HPI", "History"))),
                _p(
                    _sentences(
                        g,
                        (
                            "The patient was admitted two days ago with worsening symptoms.",
                            "Outside records were reviewed in detail.",
                            "Prior workup has been unrevealing.",
                            "There is no prior history of similar episodes.",
                            "Symptoms are worse with exertion.",
                        ),
                        1,
                        3,
                    )
                ),
            ],
        ),
        (
            "pmh",
            [
                _h(g.pick(("Past Medical History", "PMH"))),
                _p(", ".join(g.diagnosis() for _ in range(g.rng.randint(1, 3)))),
            ],
        ),
        ("meds", [_h("Medications"), _p("; ".join(g.med_line() for _ in range(g.rng.randint(1, 3))))]),
        (
            "exam",
            [
                _h(g.pick(("Examination", "Physical Exam"))),
                _p(g.vitals() + ". " + g.pick(("No distress.", "Pleasant, conversant."))),
            ],
        ),
        (
            "data",
            [
                _h(g.pick(("Data Reviewed", "Pertinent Results", "Studies"))),
                _p(
                    g.pick(
                        (
                            "Echocardiogram and ECG personally reviewed.",
                            "Creatinine trend reviewed: 1.1 to 2.3.",
                            "Imaging reviewed with radiology.",
                        )
                    )
                ),
            ],
        ),
        (
            "imp",
            [
                _h(g.pick(("Impression", "Assessment", "Impression and Recommendations"))),
                _p(f"{dx.capitalize()}."),
            ],
        ),
        (
            "rec",
            [
                _h(g.pick(("Recommendations", "Recommendations:", "Plan / Recommendations", "Suggestions"))),
                *[
                    _p(f"{i}. {r}")
                    for i, r in enumerate(
                        g.some(
                            (
                                "Recommend starting apixaban 5 mg twice daily.",
                                "Agree with current antibiotics.",
                                "Recommend renal ultrasound and urine studies.",
                                "Suggest holding lisinopril.",
                                "Would obtain MRI of the lumbar spine.",
                                "Recommend outpatient follow-up in our clinic in 2 weeks.",
                                "No surgical intervention indicated at this time.",
                                "Would check iron studies and B12.",
                            ),
                            2,
                            4,
                        ),
                        start=1,
                    )
                ],
            ],
        ),
        (
            "close",
            [
                _p(
                    g.pick(
                        (
                            "Thank you for this consult. We will follow along with you.",
                            "We will continue to follow. Please call with questions.",
                            "Thank you for involving us in this patient's care. Will sign off; please re-consult as needed.",
                            "Discussed with the primary team.",
                        )
                    )
                )
            ],
        ),
    ]
    keep = {"why", "rec"} | set(g.some([k for k, _ in sections], 4, 10))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _discharge_for_patient(g: _Gen) -> list[Block]:
    """The discharge paperwork a patient takes home: plain words, same content."""
    stay = g.rng.randint(1, 10)
    name, dose, form = g.med()
    body = [
        _f(g.pick(("Admitted", "Hospital admission", "You came in on")), g.date()),
        _f(g.pick(("Discharged", "Left the hospital", "Discharge date")), g.date(stay)),
        _h(g.pick(("Reason for your hospital stay", "You were treated for", "Your diagnosis"))),
        _p(g.diagnosis().capitalize() + "."),
        _h(g.pick(("What we did", "Summary of your stay", "During your stay"))),
        _p(
            _sentences(
                g,
                (
                    "You received antibiotics through an IV.",
                    "Your heart rhythm was monitored.",
                    "You had an operation and recovered well.",
                    "Your kidney function improved with fluids.",
                    "You were seen by the physical therapist.",
                    "Your oxygen level returned to normal.",
                ),
                1,
                3,
            )
        ),
        _h(
            g.pick(
                (
                    "Your medicines",
                    "Medication changes",
                    "Medicines to take at home",
                    "Your home medication list",
                )
            )
        ),
        _p(f"NEW: {name} {dose}, {g.pick(_SIGS).format(form=form)}"),
        *[
            _p(f"{g.pick(('CONTINUE', 'CHANGED', 'STOP'))}: {g.med_line()}")
            for _ in range(g.rng.randint(1, 4))
        ],
        _h(g.pick(("Follow-up appointments", "Your next appointments", "Who to see next"))),
        _p(f"{g.doctor()} on {g.date(stay + 7)} at {g.time()}"),
        _h(g.pick(("When to call your doctor", "Call 911 or return if", "Warning signs"))),
        _p(
            _sentences(
                g,
                (
                    "Fever over 101 F.",
                    "Chest pain or trouble breathing.",
                    "Redness or drainage at the wound.",
                    "Weight gain of more than 3 pounds in a day.",
                    "Vomiting that does not stop.",
                ),
                2,
                4,
            )
        ),
        _f(
            g.pick(("Diet", "What to eat")),
            g.pick(("Heart healthy, low salt", "Regular", "Diabetic", "Soft foods for a week")),
        ),
        _f(
            g.pick(("Activity", "Activity level")),
            g.pick(("As tolerated", "No lifting over 10 pounds", "Walk daily")),
        ),
    ]
    if g.chance(0.5):
        body.append(
            _p("I have received and understand these discharge instructions. Patient signature: __________")
        )
    return body


def _discharge(g: _Gen) -> list[Block]:
    if g.chance(0.25):
        return _discharge_for_patient(g)
    stay = g.rng.randint(1, 14)
    sections: list[tuple[str, list[Block]]] = [
        (
            "dates",
            [
                _f(g.pick(("Admission Date", "Date of Admission", "Admitted")), g.date()),
                _f(g.pick(("Discharge Date", "Date of Discharge", "Discharged")), g.date(stay)),
            ],
        ),
        ("los", [_f("Length of Stay", f"{stay} days")]),
        (
            "admdx",
            [
                _f(
                    g.pick(("Admitting Diagnosis", "Admission Diagnosis", "Reason for Admission")),
                    g.diagnosis(),
                )
            ],
        ),
        (
            "dcdx",
            [
                _h(
                    g.pick(
                        (
                            "Discharge Diagnoses",
                            "Discharge Diagnosis",
                            "Final Diagnoses",
                            "Principal Diagnosis",
                        )
                    )
                ),
                *[_p(f"{i}. {g.diagnosis()}") for i in range(1, g.rng.randint(2, 5))],
            ],
        ),
        (
            "procs",
            [
                _h(g.pick(("Procedures", "Procedures Performed This Admission", "Procedures During Stay"))),
                _p(
                    g.pick(
                        (
                            g.procedure().capitalize(),
                            "None.",
                            f"{g.procedure().capitalize()} on hospital day 2.",
                        )
                    )
                ),
            ],
        ),
        ("consults", [_h("Consultations"), _p(", ".join(g.some(_SPECIALTIES, 1, 3)))]),
        (
            "course",
            [
                _h(
                    g.pick(
                        ("Hospital Course", "Brief Hospital Course", "Summary of Hospital Course", "Course")
                    )
                ),
                _p(
                    _sentences(
                        g,
                        (
                            "The patient was admitted to the medical floor and started on IV antibiotics.",
                            "Symptoms improved steadily over the following days.",
                            "Diet was advanced without difficulty.",
                            "Blood cultures remained negative.",
                            "The patient was transitioned to oral medications.",
                            "Physical therapy evaluated and recommended home with outpatient therapy.",
                            "Renal function returned to baseline with IV fluids.",
                            "Pain was controlled on oral agents.",
                            "The patient remained hemodynamically stable throughout the stay.",
                        ),
                        2,
                        6,
                    )
                ),
            ],
        ),
        (
            "cond",
            [
                _f(
                    g.pick(("Condition at Discharge", "Discharge Condition", "Condition on Discharge")),
                    g.pick(("Stable", "Good", "Fair", "Improved")),
                )
            ],
        ),
        (
            "dispo",
            [
                _f(
                    g.pick(("Disposition", "Discharge Disposition", "Discharged To")),
                    g.pick(
                        (
                            "Home",
                            "Home with home health",
                            "Skilled nursing facility",
                            "Rehab facility",
                            "Home with family",
                        )
                    ),
                )
            ],
        ),
        (
            "meds",
            [
                _h(
                    g.pick(("Discharge Medications", "Medications at Discharge", "Discharge Medication List"))
                ),
                *[_p(g.med_line()) for _ in range(g.rng.randint(2, 6))],
                *([_p(f"STOP taking {g.med()[0]}.")] if g.chance(0.4) else []),
            ],
        ),
        (
            "instr",
            [
                _h(g.pick(("Discharge Instructions", "Patient Instructions", "Instructions"))),
                _p(
                    _sentences(
                        g,
                        (
                            "Diet: low sodium.",
                            "Activity as tolerated.",
                            "No driving for 2 weeks.",
                            "Call your doctor for fever over 101 F.",
                            "Keep the incision clean and dry.",
                            "Weigh yourself daily.",
                            "Return to the emergency department for chest pain.",
                        ),
                        2,
                        4,
                    )
                ),
            ],
        ),
        (
            "fu",
            [
                _h(g.pick(("Follow-up", "Follow Up Appointments", "Follow-up Care"))),
                _p(
                    g.pick(
                        (
                            f"Primary care in 1 week with {g.doctor()}.",
                            f"{g.pick(_SPECIALTIES)} clinic in 2 weeks.",
                            "Follow up with surgery in 10 days for wound check.",
                        )
                    )
                ),
            ],
        ),
        ("pending", [_f("Pending Results", g.pick(("None", "Final blood cultures", "Pathology")))]),
    ]
    keep = {"course"} | set(g.some([k for k, _ in sections], 5, 12))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _operative(g: _Gen) -> list[Block]:
    proc = g.procedure()
    dx = g.diagnosis()
    fields = [
        _f(g.pick(("Date of Surgery", "Date of Procedure", "Procedure Date", "Date of Operation")), g.date()),
        _f(g.pick(("Surgeon", "Primary Surgeon", "Attending Surgeon", "Operator")), g.doctor()),
        _f(g.pick(("Assistant", "Assistant(s)", "First Assistant")), g.pick(("None", g.doctor()))),
        _f(
            g.pick(("Preoperative Diagnosis", "Pre-op Diagnosis", "Pre-operative Diagnosis", "Indication")),
            dx,
        ),
        _f(
            g.pick(("Postoperative Diagnosis", "Post-op Diagnosis", "Post-operative Diagnosis")),
            g.pick(("Same", dx)),
        ),
        _f(
            g.pick(
                ("Procedure", "Procedure Performed", "Procedures", "Operation Performed", "Name of Operation")
            ),
            proc,
        ),
        _f(
            g.pick(("Anesthesia", "Type of Anesthesia")),
            g.pick(("General endotracheal", "Spinal", "MAC with local", "General LMA", "Local")),
        ),
        _f(
            g.pick(("Estimated Blood Loss", "EBL", "Blood Loss")),
            g.pick(("Minimal", "10 mL", "25 mL", "150 mL", "<5 mL")),
        ),
        _f("Fluids", f"{g.rng.randint(4, 20)}00 mL crystalloid"),
        _f(
            g.pick(("Specimens", "Specimen", "Specimens Removed")),
            g.pick(("None", "Appendix to pathology", "Gallbladder", "Polyp x2")),
        ),
        _f("Drains", g.pick(("None", "JP drain x1", "Foley catheter"))),
        _f(
            g.pick(("Complications", "Intraoperative Complications")),
            g.pick(("None", "None apparent", "None.")),
        ),
        _f(
            g.pick(("Implants", "Hardware")),
            g.pick(("None", "Volar locking plate", "Mesh", "Cemented prosthesis")),
        ),
    ]
    body = g.rng.sample(fields, g.rng.randint(5, len(fields)))
    if g.chance(0.6):
        body.append(_h(g.pick(("Indications", "Indications for Procedure"))))
        body.append(
            _p(
                f"The patient presented with {dx}. Risks and benefits were discussed and consent was obtained."
            )
        )
    if g.chance(0.5):
        body.append(_h("Findings"))
        body.append(
            _p(
                g.pick(
                    (
                        "Inflamed, non-perforated appendix.",
                        "Distended gallbladder with stones.",
                        "Comminuted fracture, reduced anatomically.",
                        "Two sessile polyps in the sigmoid colon.",
                        "Indirect hernia sac with normal contents.",
                    )
                )
            )
        )
    body.append(
        _h(
            g.pick(
                (
                    "Description of Procedure",
                    "Procedure in Detail",
                    "Operative Technique",
                    "Details of Procedure",
                    "Description of the Operation",
                )
            )
        )
    )
    body.append(_p(_sentences(g, (
        "The patient was brought to the operating room and placed supine on the table.",
        "After induction of general anesthesia, the abdomen was prepped and draped in the usual sterile fashion.",
        "A time-out was performed confirming the correct patient, procedure and site.",
        "An incision was made and carried down through the subcutaneous tissue.",
        "Hemostasis was obtained with electrocautery.", "The fascia was closed with 0 Vicryl.",
        "The skin was closed with 4-0 Monocryl in a subcuticular fashion.",
        "Sponge, needle and instrument counts were correct at the end of the case.",
        "The scope was advanced to the cecum and withdrawn with careful inspection.",
        "The patient tolerated the procedure well and was taken to the recovery room in stable condition.",
    ), 3, 8)))  # fmt: skip
    if g.chance(0.4):
        body.append(
            _f(
                "Disposition",
                g.pick(("PACU, stable", "To recovery in stable condition", "Same-day discharge")),
            )
        )
    return body


def _lab(g: _Gen) -> list[Block]:
    body: list[Block] = []
    meta = [
        _f(
            g.pick(("Accession", "Accession #", "Specimen ID", "Lab No")),
            f"{g.pick('ABCLMS')}{g.rng.randint(10**6, 10**8)}",
        ),
        _f(
            g.pick(("Collected", "Collection Date", "Date Collected", "Specimen Collected")),
            f"{g.date()} {g.time()}",
        ),
        _f(g.pick(("Received", "Date Received")), f"{g.date()} {g.time()}"),
        _f(g.pick(("Reported", "Report Date", "Resulted", "Final Report")), f"{g.date(1)} {g.time()}"),
        _f(
            g.pick(("Ordering Provider", "Ordered by", "Ordering Physician", "Requesting Physician")),
            g.doctor(),
        ),
        _f(
            g.pick(("Specimen", "Specimen Type", "Source")),
            g.pick(("Blood", "Serum", "Whole blood EDTA", "Urine, clean catch", "Plasma")),
        ),
        _f("Status", g.pick(("Final", "FINAL", "Preliminary", "Corrected"))),
    ]
    body.extend(g.rng.sample(meta, g.rng.randint(2, len(meta))))
    body.append(Block("blank", ("",)))
    for _ in range(g.rng.randint(1, 3)):
        if g.chance(0.7):
            body.append(_h(g.pick(_PANELS)))
        header = g.rng.choice(
            (
                ("Test", "Result", "Units", "Reference Range"),
                ("Component", "Value", "Flag", "Ref Range"),
                ("Analyte", "Result", "Unit", "Normal Range"),
                ("TEST NAME", "RESULT", "FLAG", "REFERENCE"),
            )
        )
        if g.chance(0.8):
            body.append(_row(*header))
        for name, unit, low, high, decimals in g.rng.sample(list(_ANALYTES), g.rng.randint(3, 10)):
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
        body.append(
            _p(
                g.pick(
                    (
                        "H = High, L = Low, C = Critical.",
                        "Critical value called to and read back by RN at 07:12.",
                        "Specimen slightly hemolyzed; potassium may be falsely elevated.",
                        "Results should be interpreted in conjunction with clinical findings.",
                    )
                )
            )
        )
    if g.chance(0.5):
        body.append(
            _p(
                f"{g.pick(('Performing Laboratory', 'Performed at', 'Testing site'))}: {g.facility()[0]} Laboratory  "
                f"CLIA {g.rng.randint(10, 99)}D{g.rng.randint(10**6, 10**7)}"
            )
        )
    if g.chance(0.4):
        body.append(_p(f"{g.pick(('Verified by', 'Reviewed by', 'Medical Director'))}: {g.doctor()}"))
    return body


def _radiology(g: _Gen) -> list[Block]:
    exam, region = g.rng.choice(_EXAMS)
    findings = g.some(_FINDINGS[region], 1, 3)
    sections: list[tuple[str, list[Block]]] = [
        ("exam", [_f(g.pick(("Exam", "Examination", "Procedure", "Study")), exam)]),
        ("date", [_f(g.pick(("Exam Date", "Date of Service", "Date of Exam")), g.date())]),
        (
            "hist",
            [
                _f(
                    g.pick(
                        (
                            "Clinical History",
                            "Indication",
                            "History",
                            "Reason for Exam",
                            "Clinical Indication",
                        )
                    ),
                    g.pick(
                        (g.diagnosis(), "Pain.", "Rule out fracture.", "Shortness of breath.", "Follow-up.")
                    ),
                )
            ],
        ),
        (
            "comp",
            [
                _f(
                    g.pick(("Comparison", "Comparisons", "Prior Studies")),
                    g.pick(("None.", g.date(-200), "Prior study dated " + g.date(-90))),
                )
            ],
        ),
        (
            "tech",
            [
                _f(
                    g.pick(("Technique", "Protocol")),
                    g.pick(
                        (
                            "Axial images were obtained without intravenous contrast.",
                            "Multiplanar images were acquired.",
                            "PA and lateral views of the chest.",
                            "Grayscale and color Doppler images were obtained.",
                            "100 mL Omnipaque 350 IV contrast was administered.",
                        )
                    ),
                )
            ],
        ),
        ("findings", [_h(g.pick(("Findings", "FINDINGS:", "Report"))), *[_p(f) for f in findings]]),
        (
            "impression",
            [
                _h(g.pick(("Impression", "IMPRESSION:", "Conclusion", "Impression / Conclusion"))),
                _p(
                    g.pick(
                        (
                            "No acute abnormality.",
                            f"{findings[0]}",
                            "Findings consistent with acute appendicitis.",
                            "No acute cardiopulmonary process.",
                            "Stable examination compared to prior.",
                        )
                    )
                ),
            ],
        ),
        (
            "sign",
            [
                _p(
                    g.pick(
                        (
                            f"Interpreted by: {g.doctor()}, Radiologist",
                            f"Radiologist: {g.doctor()}",
                            f"Dictated by {g.doctor()} and electronically signed",
                            f"Reading physician: {g.doctor()}",
                        )
                    )
                )
            ],
        ),
    ]
    keep = {"exam", "findings", "impression"} | set(g.some([k for k, _ in sections], 2, 5))
    return [b for key, blocks in sections if key in keep for b in blocks]


def _referral(g: _Gen) -> list[Block]:
    specialist = g.doctor()
    specialty = g.pick(_SPECIALTIES)
    dx = g.diagnosis()
    last, first = g.patient
    if g.chance(0.2):  # a short clinician-to-clinician note
        return [
            _p(g.pick((f"To: {specialist}, {specialty}", f"Attn: {specialty} clinic", f"For: {specialist}"))),
            _p(g.pick((f"From: {g.doctor()}", f"Sent by: {g.doctor()}", f"Referring: {g.doctor()}"))),
            _p(
                g.pick(
                    (
                        f"Please see my patient for {dx}.",
                        f"Would you kindly assess {first} {last} for {dx}?",
                        f"Requesting your opinion and management of {dx}.",
                        f"New patient referral for {dx}.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        "Pertinent records enclosed.",
                        "Office notes and recent results attached.",
                        "Imaging on disc to follow.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        f"Appointment requested: {g.pick(('routine', 'soon', 'urgent'))}.",
                        "Please call our office to schedule.",
                        "The patient will call to book.",
                    )
                )
            ),
            _p(g.pick(("Many thanks,", "Thank you,", "Regards,")) + " " + g.doctor()),
        ]
    if g.chance(0.5):  # a letter
        body = [
            _p(g.date()),
            _p(
                f"{g.pick(('Dear', 'Dear Dr.', 'To:'))} {specialist.replace('Dr. ', '')}"
                + ("," if g.chance(0.7) else "")
            ),
            _p(
                g.pick(
                    (
                        f"I am referring {first} {last} to you for evaluation of {dx}.",
                        f"I would like to refer my patient, {first} {last}, for your assessment of {dx}.",
                        f"Please see {first} {last}, whom I am referring to {specialty} for {dx}.",
                        f"Thank you for agreeing to see {first} {last} regarding {dx}.",
                    )
                )
            ),
            _p(
                _sentences(
                    g,
                    (
                        "Symptoms have not responded to conservative management.",
                        "Recent labs are enclosed.",
                        "Relevant office notes and imaging are attached.",
                        "The patient is aware of the referral.",
                        "I would appreciate your opinion regarding further management.",
                        "Please evaluate and treat as you see fit.",
                    ),
                    1,
                    4,
                )
            ),
            _p(
                g.pick(
                    (
                        "Thank you for seeing this patient.",
                        "Thank you for your help with this patient's care.",
                        "Please do not hesitate to contact me with any questions.",
                    )
                )
            ),
            _p(g.pick(("Sincerely,", "Kind regards,", "Best regards,", "Yours truly,"))),
            _p(g.doctor()),
        ]
        if g.chance(0.4):
            body.insert(2, _f(g.pick(("Re", "RE", "Regarding")), f"{first} {last}, DOB {g.dob.isoformat()}"))
        return body
    fields = [
        _f(g.pick(("Referring Provider", "Referring Physician", "Referred by", "From")), g.doctor()),
        _f(g.pick(("Referred To", "Refer to", "Specialist", "To")), f"{specialist}, {specialty}"),
        _f(g.pick(("Specialty", "Service Requested", "Department")), specialty),
        _f(g.pick(("Reason for Referral", "Reason for Referral/Diagnosis", "Referral Reason")), dx),
        _f(g.pick(("Diagnosis Code", "ICD-10", "Dx Code")), g.rng.choice(_DIAGNOSES)[1]),
        _f(g.pick(("Urgency", "Priority")), g.pick(("Routine", "Urgent", "Within 2 weeks", "STAT"))),
        _f(g.pick(("Number of Visits", "Visits Authorized")), str(g.rng.randint(1, 6))),
        _f(g.pick(("Authorization #", "Referral #", "Auth Number")), str(g.rng.randint(10**5, 10**8))),
        _f(
            g.pick(("Type of Referral", "Requested Service")),
            g.pick(("Consult only", "Evaluate and treat", "Consult and follow", "Second opinion")),
        ),
        _f("Records Attached", g.pick(("Office notes, labs", "Imaging report", "None", "Yes"))),
    ]
    body = g.rng.sample(fields, g.rng.randint(4, len(fields)))
    if g.chance(0.6):
        body.append(_h(g.pick(("Clinical Summary", "Comments", "Pertinent History", "Notes to Specialist"))))
        body.append(
            _p(
                _sentences(
                    g,
                    (
                        "Failed physical therapy.",
                        "Worsening over 3 months.",
                        "Please schedule at earliest availability.",
                        "Patient prefers morning appointments.",
                        "Abnormal result on recent testing.",
                    ),
                    1,
                    3,
                )
            )
        )
    if g.chance(0.5):
        body.append(_p(f"Referring provider signature: {g.doctor()}   Date: {g.date()}"))
    return body


def _consent_plain(g: _Gen) -> list[Block]:
    proc = g.procedure()
    return [
        _f(g.pick(("Procedure", "Treatment", "Planned procedure")), proc),
        _f(g.pick(("Doctor", "Physician performing", "Provider")), g.doctor()),
        _p(
            g.pick(
                (
                    "My doctor talked with me about this procedure, why I need it, what could go wrong, and other options.",
                    "The reasons for this treatment, its possible problems and my other choices were explained to me.",
                    "I was told about the expected benefits and the possible side effects.",
                )
            )
        ),
        _p(
            g.pick(
                (
                    "Possible problems include bleeding, infection, pain, and injury to nearby organs.",
                    "Rare but serious problems can happen, including reactions to medicines.",
                    "I know that the outcome cannot be promised.",
                )
            )
        ),
        _p(
            g.pick(
                (
                    "I agree to have this procedure.",
                    "I give my permission for this treatment.",
                    "I agree to receive sedation and any blood products if needed.",
                    "I freely agree to this care.",
                )
            )
        ),
        _p(
            g.pick(
                (
                    "I can withdraw my agreement at any time before the procedure.",
                    "All of my questions were answered in a way I understand.",
                )
            )
        ),
        _p(
            f"{g.pick(('Signed', 'Patient or guardian', 'Signature'))}: ____________________  Date: __________"
        ),
        _p(f"{g.pick(('Witnessed by', 'Witness', 'Staff member'))}: ____________________"),
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
                g.pick(
                    (
                        f"I, {first} {last}, authorize {g.facility()[0]} to release my health information to {g.facility()[0]}.",
                        "I hereby authorize the use or disclosure of my protected health information as described below.",
                    )
                )
            ),
            _f(
                g.pick(("Information to be released", "Records requested")),
                g.pick(
                    ("All records", "Lab results and office notes", "Discharge summary and imaging reports")
                ),
            ),
            _f("Purpose", g.pick(("Continuity of care", "Insurance", "Personal use", "Legal"))),
            _p(
                "This authorization expires one year from the date signed unless revoked in writing. "
                "I understand that I may revoke this authorization at any time."
            ),
            _p("I understand that treatment will not be conditioned on signing this authorization."),
        ]
    else:
        body = [
            _p(
                g.pick(
                    (
                        f"I, {first} {last}, hereby consent to and authorize {doctor} and such assistants as may be selected to perform the following procedure: {proc}.",
                        f"I authorize {doctor} to perform {proc} and any additional procedures deemed necessary.",
                        f"Procedure: {proc}. Physician: {doctor}.",
                        f"I voluntarily request and consent to {proc}, to be performed by {doctor}.",
                    )
                )
            ),
            _p(
                _sentences(
                    g,
                    (
                        "The nature and purpose of the procedure, the risks, benefits and alternatives have been explained to me.",
                        "I understand that risks include bleeding, infection, damage to nearby structures and reaction to anesthesia.",
                        "I acknowledge that no guarantee or assurance has been made as to the results.",
                        "I have had the opportunity to ask questions and all of my questions have been answered.",
                        "I consent to the administration of anesthesia and to blood transfusion if necessary.",
                        "I consent to the disposal of any tissue removed during the procedure.",
                        "I understand that I have the right to refuse this treatment.",
                    ),
                    2,
                    6,
                )
            ),  # fmt: skip
        ]
    signatures = [
        _p(
            f"{g.pick(('Patient Signature', 'Signature of Patient', 'Patient or Legal Representative Signature'))}: ________________________"
        ),
        _p(
            f"Date/Time: ____________   {g.pick(('Relationship if not patient', 'Printed Name'))}: ______________"
        ),
        _p(f"{g.pick(('Witness', 'Witness Signature'))}: ________________________"),
        _p(f"{g.pick(('Physician Signature', 'Provider obtaining consent'))}: ________________________"),
        _p(f"Interpreter (if used): ________________   Language: {g.pick(('Spanish', 'N/A', 'Russian'))}"),
    ]
    body.extend(g.rng.sample(signatures, g.rng.randint(2, 5)))
    return body


def _prescription_printout(g: _Gen) -> list[Block]:
    """An e-prescribing or fax printout: one medication, labelled fields."""
    name, dose, form = g.med()
    fields = [
        _f(g.pick(("Medication", "Drug", "Drug Name", "Medication Prescribed")), f"{name} {dose} {form}"),
        _f(g.pick(("Directions", "Sig", "Patient Directions", "Use")), g.pick(_SIGS).format(form=form)),
        _f(
            g.pick(("Quantity", "Qty", "Dispense Quantity", "Amount to Dispense")),
            str(g.rng.choice((7, 14, 30, 60, 90))),
        ),
        _f(g.pick(("Days Supply", "Supply")), str(g.rng.choice((7, 30, 90)))),
        _f(g.pick(("Refills", "Number of Refills", "Refills Authorized")), str(g.rng.randint(0, 11))),
        _f(
            g.pick(("Substitution", "Generic Substitution", "DAW")),
            g.pick(("Allowed", "Not allowed", "0", "1")),
        ),
        _f(g.pick(("Prescriber", "Prescribing Provider", "Ordered by")), g.doctor()),
        _f(g.pick(("NPI", "Prescriber NPI")), str(g.rng.randint(10**9, 10**10 - 1))),
        _f(g.pick(("Pharmacy", "Dispensing Pharmacy", "Send to Pharmacy")), f"{g.pick(_PLACES)} Pharmacy"),
        _f(g.pick(("Date Written", "Written", "Date Issued")), g.date()),
        _f(g.pick(("Diagnosis", "Indication")), g.diagnosis()),
    ]
    body = g.rng.sample(fields[:3], 3) + g.rng.sample(fields[3:], g.rng.randint(3, len(fields) - 3))
    if g.chance(0.4):
        body.append(
            _p(
                g.pick(
                    (
                        "Transmitted electronically.",
                        "This prescription was sent by fax.",
                        "Void if altered. Valid for one year from the date written.",
                    )
                )
            )
        )
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
            body.append(_p(g.pick(("Rx", "Rx:", "R/"))))
        body.append(
            _p(
                g.pick(
                    (f"{name.capitalize()} {dose} {form}s", f"{name} {dose} {form}", f"{name.upper()} {dose}")
                )
            )
        )
        body.append(_f(g.pick(("Sig", "SIG", "Directions", "Instructions")), g.pick(_SIGS).format(form=form)))
        body.append(
            _f(
                g.pick(("Disp", "Dispense", "Qty", "Quantity")),
                g.pick(
                    (
                        f"#{g.rng.choice((14, 30, 60, 90))}",
                        f"{g.rng.choice((30, 90))} ({g.pick(('thirty', 'ninety'))})",
                        f"{g.rng.choice((1, 2))} {form}",
                    )
                ),
            )
        )
        body.append(
            _f(g.pick(("Refills", "Refill", "RF")), g.pick(("0", "1", "2", "3", "5", "None", "PRN x 1 year")))
        )
    body.append(
        _p(
            g.pick(
                (
                    "Substitution permitted",
                    "Dispense as written",
                    "Generic substitution allowed",
                    "[ ] Do not substitute",
                    "Product selection permitted",
                )
            )
        )
    )
    if g.chance(0.5):
        body.append(_f(g.pick(("Pharmacy", "Send to")), f"{g.pick(_PLACES)} Pharmacy {g.phone()}"))
    body.append(
        _p(
            f"{g.pick(('Prescriber signature', 'Signature', 'Signed'))}: {g.pick(('_______________', prescriber))}"
        )
    )
    return body


def _insurance(g: _Gen) -> list[Block]:
    payer = g.pick(_PAYERS)
    last, first = g.patient
    kind = g.rng.randrange(5)
    if kind == 4:  # a statement to the member
        lines = [
            _f(g.pick(("Member", "Member name", "Insured member")), f"{first} {last}"),
            _f(
                g.pick(("Member ID", "ID #", "Identification number")),
                f"{g.pick('XYZHMW')}{g.rng.randint(10**7, 10**9)}",
            ),
            _f(g.pick(("Plan", "Health plan", "Your plan")), payer),
            _f(g.pick(("Statement period", "Plan year", "Coverage period")), f"{g.date(-90)} - {g.date()}"),
            _row(
                g.pick(("Date", "Service date")),
                g.pick(("Provider billed", "Amount charged")),
                g.pick(("Plan paid", "Your plan paid")),
                g.pick(("Your share", "You owe", "Member cost")),
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
            _f(
                g.pick(("Deductible met", "Deductible so far", "Toward your deductible")),
                f"${g.rng.randint(0, 1500)}",
            ),
            _f(g.pick(("Out-of-pocket so far", "Toward out-of-pocket max")), f"${g.rng.randint(0, 4000)}"),
            _p(
                g.pick(
                    (
                        "Keep this statement for your records.",
                        "Questions? Call the member services number on your ID card.",
                        "This is a summary of claims processed, not a bill.",
                    )
                )
            ),
        ]
        return lines
    member = [
        _f(g.pick(("Payer", "Insurance Company", "Plan", "Carrier", "Health Plan")), payer),
        _f(
            g.pick(("Member ID", "Member #", "ID Number", "Subscriber ID", "Policy Number")),
            f"{g.pick('XYZHMW')}{g.rng.randint(10**8, 10**10)}",
        ),
        _f(g.pick(("Group Number", "Group #", "Group No")), str(g.rng.randint(1000, 999999))),
        _f(
            g.pick(("Subscriber", "Subscriber Name", "Policy Holder", "Insured")),
            g.pick((f"{first} {last}", g.person())),
        ),
        _f(
            g.pick(("Relationship to Subscriber", "Relationship to Insured")),
            g.pick(("Self", "Spouse", "Child")),
        ),
        _f(g.pick(("Effective Date", "Coverage Effective", "Plan Effective Date")), g.date(-300)),
    ]
    body = g.rng.sample(member, g.rng.randint(3, 6))
    if kind == 0:  # eligibility / card
        body += [
            _f(g.pick(("Copay", "Office Copay", "PCP Copay")), f"${g.rng.choice((10, 20, 25, 35, 40))}"),
            _f(g.pick(("Specialist Copay", "Specialist")), f"${g.rng.choice((40, 50, 60))}"),
            _f(
                g.pick(("Deductible", "Annual Deductible")),
                f"${g.rng.choice((500, 1000, 1500, 3000))} (met ${g.rng.randint(0, 500)})",
            ),
            _f(g.pick(("Coinsurance", "Co-insurance")), f"{g.rng.choice((10, 20, 30))}%"),
            _f(g.pick(("Out-of-Pocket Maximum", "OOP Max")), f"${g.rng.choice((3000, 5000, 7900))}"),
            _f(
                g.pick(("Coverage Status", "Eligibility", "Status")),
                g.pick(("Active", "Active coverage", "Eligible")),
            ),
            _p(
                g.pick(
                    (
                        "Verified by phone with payer representative.",
                        "Eligibility verified electronically (270/271).",
                        "Rx BIN 610014 PCN MEDDPRIME",
                        "Present this card at time of service.",
                    )
                )
            ),
        ]
    elif kind == 1:  # EOB / claim
        body += [
            _f(g.pick(("Claim Number", "Claim #", "Claim ID")), str(g.rng.randint(10**9, 10**11))),
            _f(g.pick(("Date of Service", "Service Date")), g.date()),
            _f("Provider", g.facility()[0]),
            _row("Service", "Billed", "Allowed", "Plan Paid"),
            *[
                _row(
                    f"{g.rng.randint(10000, 99999)} {g.pick(('Office visit', 'Lab', 'X-ray', 'Procedure'))}",
                    f"${g.rng.randint(80, 2000)}.00",
                    f"${g.rng.randint(40, 900)}.00",
                    f"${g.rng.randint(20, 800)}.00",
                )
                for _ in range(g.rng.randint(1, 4))
            ],
            _f(
                g.pick(("Patient Responsibility", "You May Owe", "Amount You Owe")),
                f"${g.rng.randint(0, 600)}.{g.rng.randint(10, 99)}",
            ),
            _p(
                g.pick(
                    (
                        "THIS IS NOT A BILL.",
                        "Amounts applied to deductible and coinsurance are shown above.",
                        "You have the right to appeal this decision within 180 days.",
                    )
                )
            ),
        ]
    elif kind == 2:  # prior authorization
        body += [
            _f(
                g.pick(("Requested Service", "Service Requested", "Procedure Requested")),
                g.pick((g.procedure(), g.rng.choice(_EXAMS)[0])),
            ),
            _f(g.pick(("CPT Code", "CPT/HCPCS")), str(g.rng.randint(10000, 99999))),
            _f(g.pick(("Diagnosis", "ICD-10 Code")), g.rng.choice(_DIAGNOSES)[1]),
            _f(g.pick(("Requesting Provider", "Ordering Provider")), g.doctor()),
            _f(
                g.pick(("Determination", "Decision", "Authorization Status")),
                g.pick(("Approved", "Pended for review", "Denied", "Approved - 6 visits")),
            ),
            _f(g.pick(("Authorization Number", "Auth #", "Reference #")), str(g.rng.randint(10**6, 10**9))),
            _p(
                g.pick(
                    (
                        "Authorization is not a guarantee of payment.",
                        "Benefits are subject to eligibility at the time of service.",
                        "Medical necessity criteria were reviewed.",
                    )
                )
            ),
        ]
    else:  # a claim form
        body += [
            _f(
                g.pick(("Insured's Address", "Subscriber Address")),
                f"{g.rng.randint(10, 999)} {g.pick(_STREETS)}",
            ),
            _f(
                g.pick(("Billing Provider", "Rendering Provider")),
                f"{g.doctor()} NPI {g.rng.randint(10**9, 10**10 - 1)}",
            ),
            _f("Tax ID", f"{g.rng.randint(10, 99)}-{g.rng.randint(10**6, 10**7 - 1)}"),
            _f(g.pick(("Total Charge", "Total Charges")), f"${g.rng.randint(100, 5000)}.00"),
            _f(g.pick(("Amount Paid", "Prior Payments")), f"${g.rng.randint(0, 300)}.00"),
            _f("Accept Assignment", g.pick(("Yes", "No"))),
            _p("Signature of insured or authorized person: ________________"),
        ]
    return body


def _other(g: _Gen) -> list[Block]:
    kind = g.rng.randrange(6)
    last, first = g.patient
    if kind == 0:  # fax cover
        return [
            _f("To", g.pick((g.doctor(), f"{g.facility()[0]} Medical Records"))),
            _f("From", g.pick((g.doctor(), f"{g.facility()[0]}"))),
            _f("Fax", g.phone()),
            _f("Phone", g.phone()),
            _f(
                g.pick(("Pages", "Number of pages including cover", "Pages (including cover)")),
                str(g.rng.randint(2, 20)),
            ),
            _f(
                g.pick(("Re", "Subject")),
                g.pick(("Records as requested", "Patient information", "Results", "Follow up")),
            ),
            _f("Date", g.date()),
            _p(
                g.pick(
                    (
                        "[ ] Urgent  [ ] For Review  [ ] Please Comment  [ ] Please Reply",
                        "Comments: see attached.",
                    )
                )
            ),
            _p(
                "CONFIDENTIALITY NOTICE: The documents accompanying this facsimile transmission contain confidential "
                "information. If you have received this fax in error, please notify the sender immediately and destroy the documents."
            ),
        ]
    if kind == 1:  # appointment reminder
        return [
            _p(g.date(-7)),
            _p(f"Dear {first} {last},"),
            _p(
                g.pick(
                    (
                        f"This is a reminder of your upcoming appointment on {g.date(7)} at {g.time()} with {g.doctor()}.",
                        f"You are scheduled to see {g.doctor()} on {g.date(10)} at {g.time()}.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        "Please arrive 15 minutes early and bring your insurance card and a list of your medications.",
                        "Please bring a photo ID and your current insurance card.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        "If you need to reschedule or cancel, please call our office at least 24 hours in advance.",
                        f"To reschedule call {g.phone()}. A fee may apply to missed appointments.",
                    )
                )
            ),
            _p(
                g.pick(("Sincerely,", "Thank you,"))
                + " "
                + g.pick(("The Front Desk", "Scheduling Department", "Patient Services"))
            ),
        ]
    if kind == 2:  # records request / correspondence
        return [
            _p(g.date()),
            _p(
                g.pick(
                    ("To whom it may concern:", "Dear Medical Records Department,", f"Dear {first} {last},")
                )
            ),
            _p(
                g.pick(
                    (
                        "We have received your request for copies of your records. Please allow 10 business days for processing.",
                        "Our office has moved. Beginning next month our new address will be shown above.",
                        "Thank you for choosing our practice. Your patient portal account has been created.",
                        "Our records show an outstanding balance on your account. Please contact the billing office.",
                        "We were unable to reach you by phone. Please call our office at your convenience.",
                        "Enclosed please find the forms you requested.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        "Office hours are Monday through Friday, 8 am to 5 pm.",
                        "Please call the front desk with any questions.",
                        "You can also reach us through the patient portal.",
                    )
                )
            ),
            _p(g.pick(("Sincerely,", "Regards,", "Thank you,"))),
            _p(g.pick(("Office Manager", "Medical Records", g.person()))),
        ]
    if kind == 3:  # patient education
        topic = g.pick(
            (
                "Healthy Eating",
                "Managing Stress",
                "Preventing Falls at Home",
                "Hand Washing",
                "Getting Your Flu Shot",
                "Staying Active",
            )
        )
        return [
            _h(topic),
            _p(
                _sentences(
                    g,
                    (
                        "Small changes can make a big difference.",
                        "Talk with your care team about what is right for you.",
                        "Wash your hands with soap and water for at least 20 seconds.",
                        "Remove loose rugs and keep hallways lit.",
                        "Aim for 30 minutes of activity most days of the week.",
                        "Drink plenty of water.",
                        "Ask us if you have questions about this handout.",
                    ),
                    3,
                    6,
                )
            ),
            _p("This information is not intended to replace advice from your health care provider."),
        ]
    if kind == 4:  # phone message / memo (administrative)
        return [
            _f("Date", g.date()),
            _f(g.pick(("Caller", "From", "Message from")), g.person()),
            _f(g.pick(("Call back number", "Phone")), g.phone()),
            _f(
                "Message",
                g.pick(
                    (
                        "Wants to change appointment time.",
                        "Asking about bill received.",
                        "Requests copy of records.",
                        "Updating address and phone number.",
                        "Calling to confirm appointment.",
                    )
                ),
            ),
            _f("Taken by", g.pick(_FIRST)),
        ]
    if kind == 5 and g.chance(0.6):  # practice announcements and surveys
        return [
            _p(g.date()),
            _p(g.pick((f"Dear {first},", "Dear Patient,", "To our patients,"))),
            _p(
                g.pick(
                    (
                        "Our office will be closed on Monday for the holiday. The on-call provider can be reached by phone.",
                        "We are pleased to welcome a new nurse practitioner to our practice.",
                        "Please take a moment to complete the enclosed patient satisfaction survey.",
                        "Our practice is joining a new health network next year; your care team will not change.",
                        "We have updated our office hours and now offer Saturday morning visits.",
                        "Parking will be limited during construction of the new entrance.",
                    )
                )
            ),
            _p(
                g.pick(
                    (
                        "Thank you for your patience.",
                        "We look forward to seeing you.",
                        "Thank you for being our patient.",
                    )
                )
            ),
            _p(
                g.pick(("Sincerely,", "Warm regards,", "With thanks,"))
                + " "
                + g.pick(("Practice Administrator", "The Staff", g.person()))
            ),
        ]
    return [  # nearly empty: a cover or blank page
        _p(
            g.pick(
                (
                    "This page intentionally left blank.",
                    "Continued on next page.",
                    "End of document.",
                    "Scanned document",
                    "Attachment",
                    "Page 2",
                )
            )
        ),
    ]


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
    "l": ("1", "I", "|"), "I": ("l", "1"), "O": ("0",), "o": ("0", "c"), "0": ("O",), "1": ("l", "I"), "S": ("5",),
    "5": ("S",), "e": ("c",), "c": ("e",), "rn": ("m",), "m": ("rn",), "cl": ("d",), "B": ("8",), "i": ("l", "1"),
    "h": ("b",), "n": ("ri",), "u": ("ii",), "a": ("o",), "t": ("f",),
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
