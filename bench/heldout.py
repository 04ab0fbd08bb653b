"""The held-out template family for ``bench/classify.py``.

Written apart from the training family (``chartclerk/classify/training/``) and from the
test scans (``tests/scans.py``), and never used to train: its titles, section headings,
sentences, field labels and page layouts are its own (other facilities, other wording,
other order, point sizes and margins outside the training range). What it shares with
them is the domain itself: a lab still reports sodium, a radiologist still writes an
impression, a surgeon still loses blood.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from chartclerk.classify.training.render import FONTS, Block, Layout
from chartclerk.tests.scans import FakePatient

TITLES: Final[dict[str, tuple[str, ...]]] = {
    "face_sheet": ("Registration Summary", "Encounter Registration", "Patient Identification Record",
                   "Admission Registration Data"),
    "history_physical": ("Admitting Physician Evaluation", "Initial Hospital Assessment", "Admission Workup"),
    "progress_note": ("Daily Rounds Note", "Inpatient Follow-Up Entry", "Return Visit", "Hospital Day Note"),
    "consult_note": ("Specialty Evaluation", "Inpatient Opinion", "Requested Specialist Evaluation"),
    "discharge_summary": ("Summary of Hospital Stay", "Discharge Record", "Transition of Care Summary",
                          "Inpatient Stay Summary"),
    "operative_report": ("Surgical Procedure Record", "Record of Operation Performed", "Operating Room Record"),
    "lab_report": ("Specimen Results", "Blood Chemistry Results", "Pathology and Laboratory Services - Final Results",
                   "Hematology and Chemistry"),
    "radiology_report": ("Interpretation of Chest Radiograph", "Sonography Findings", "Imaging Interpretation",
                         "Cross-Sectional Imaging Study"),
    "referral": ("Request for Specialist Evaluation", "Transfer of Care Request", "Outgoing Referral"),
    "consent_form": ("Patient Agreement for Treatment", "Permission for Procedure", "Agreement to Undergo Procedure",
                     "Authorization for Anesthesia Services"),
    "prescription": ("Medication Order Form", "e-Prescription Printout", "Pharmacy Order"),
    "insurance": ("Statement of Benefits", "Member Coverage Summary", "Pre-certification Notice", "Remittance Advice"),
    "other": ("Notice of Office Relocation", "Cover Page", "Letter to Patient", "Missed Appointment Notice",
              "Holiday Hours"),
}  # fmt: skip

_ORGS: Final = (
    ("Tamarack Valley Health", "31 Quarry Lane, Bend, OR 97701"),
    ("Osprey Point Medical Pavilion", "8 Causeway Blvd, Naples, FL 34102"),
    ("Ironwood Physicians Cooperative", "402 Foundry St, Pueblo, CO 81003"),
    ("Marigold Street Family Health", "77 Marigold St, Joliet, IL 60432"),
    ("Copperhill Regional", "1 Copperhill Way, Butte, MT 59701"),
    ("Driftwood Bay Clinic", "615 Shoreline Dr, Eureka, CA 95501"),
)
_CLINICIANS: Final = ("A. Whitlock", "B. Oyelaran", "C. Marchetti", "D. Sato", "E. Kowalski", "F. Abernathy")
_PROBLEMS: Final = ("pyelonephritis", "diverticulitis", "new-onset atrial flutter", "hyponatremia", "gout flare",
                    "bronchiolitis obliterans", "small bowel obstruction", "transient ischemic attack",
                    "alcohol withdrawal", "peripheral arterial disease")  # fmt: skip
_DRUGS: Final = (("ciprofloxacin", "500 mg"), ("diltiazem ER", "120 mg"), ("allopurinol", "100 mg"),
                 ("clopidogrel", "75 mg"), ("spironolactone", "25 mg"), ("rosuvastatin", "10 mg"),
                 ("nitrofurantoin", "100 mg"), ("montelukast", "10 mg"))  # fmt: skip
_OPERATIONS: Final = ("sigmoid colectomy", "lumbar microdiscectomy", "open carotid endarterectomy",
                      "ventral hernia repair", "transurethral resection of the prostate",
                      "rotator cuff repair, arthroscopic")  # fmt: skip
_TESTS: Final = (("Na", "mEq/L", 134, 146), ("K", "mEq/L", 3.4, 5.2), ("Cl", "mEq/L", 97, 108),
                 ("Urea nitrogen", "mg/dL", 6, 22), ("Creat", "mg/dL", 0.5, 1.2), ("Gluc, fasting", "mg/dL", 65, 100),
                 ("Hgb", "g/dL", 11.5, 16.5), ("Hct", "%", 35, 49), ("WBC count", "x10^3/uL", 3.8, 10.8),
                 ("Plt", "x10^3/uL", 140, 420), ("Ferritin", "ng/mL", 24, 336), ("Vitamin B12", "pg/mL", 200, 900),
                 ("Uric acid", "mg/dL", 3.5, 7.2), ("CRP", "mg/L", 0, 10), ("ESR", "mm/hr", 0, 20))  # fmt: skip
_STUDIES: Final = (("Portable chest, single frontal view", "Streaky bibasilar atelectasis. No focal consolidation."),
                   ("Sonogram of the kidneys and bladder", "Mild left pelvicaliectasis. Bladder is decompressed."),
                   ("Helical CT of the abdomen, oral contrast only", "Colonic wall thickening with pericolic stranding."),
                   ("Left knee, two projections", "Moderate medial compartment narrowing; small joint effusion."),
                   ("Duplex sonography, right leg veins", "Veins are compressible with normal phasic flow."))  # fmt: skip


@dataclass(frozen=True, slots=True)
class HeldOutDoc:
    doc_type: str
    blocks: tuple[Block, ...]
    layout: Layout
    titled: bool


class _Draw:
    def __init__(self, rng: random.Random, patient: FakePatient) -> None:
        self.rng = rng
        self.p = patient
        self.day = dt.date(2023, 3, 1) + dt.timedelta(days=rng.randint(0, 500))

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def when(self, offset: int = 0) -> str:
        d = self.day + dt.timedelta(days=offset)
        return self.pick(
            (d.strftime("%d-%b-%Y").upper(), f"{d.month}.{d.day}.{d.year}", d.strftime("%a %b %d %Y"))
        )

    def clinician(self) -> str:
        return f"{self.pick(_CLINICIANS)}, {self.pick(('M.D.', 'D.O.', 'MBBS', 'APRN'))}"


def _kv(label: str, value: str) -> Block:
    return Block("field", (label, value))


def _say(text: str) -> Block:
    return Block("para", (text,))


def _head(text: str) -> Block:
    return Block("heading", (text,))


def _face(d: _Draw) -> list[Block]:
    p = d.p
    return [
        Block("row", ("SURNAME", p.last.upper(), "GIVEN", p.first.upper())),
        Block("row", ("STREET", f"{d.rng.randint(2, 900)} Juniper Ct", "TOWN/ZIP", "Bend 97701")),
        Block("row", ("TELEPHONE", f"541-555-0{d.rng.randint(100, 199)}", "GENDER", p.sex)),
        Block(
            "row",
            ("CIVIL STATUS", d.pick(("M", "S", "W", "D")), "FAITH", d.pick(("Lutheran", "Baptist", "n/a"))),
        ),
        Block(
            "row", ("NEXT-OF-KIN", f"{d.pick(('Ruth', 'Leon', 'Ada'))} {p.last}", "KIN PHONE", "541-555-0142")
        ),
        Block(
            "row",
            ("WORKPLACE", d.pick(("County roads dept", "Retired", "Homemaker")), "PAYER 1", "Cascade Mutual"),
        ),
        Block("row", ("SUBSCRIBER NO", f"CM{d.rng.randint(10**6, 10**7)}", "PAYER 2", "none")),
        Block("row", ("VISIT NO", str(d.rng.randint(10**7, 10**8)), "ARRIVAL", d.when())),
        Block(
            "row", ("ADMIT SOURCE", d.pick(("ER", "Clinic", "Transfer")), "BED", f"W{d.rng.randint(1, 40)}")
        ),
        Block("row", ("ATTENDING", d.clinician(), "FAMILY DOCTOR", d.clinician())),
        Block("row", ("COMPLAINT", d.pick(_PROBLEMS), "", "")),
    ]


def _hp(d: _Draw) -> list[Block]:
    age = d.rng.randint(30, 90)
    return [
        _head("Presenting Complaint"),
        _say(
            d.pick(
                (
                    "Fevers and flank pain since Tuesday.",
                    "Dizziness and a near fall.",
                    "Vomiting, unable to keep fluids down.",
                )
            )
        ),
        _head("History of Current Illness"),
        _say(
            f"{age} y/o seen in the emergency room today. {d.pick(('Onset was abrupt.', 'Gradual worsening over a week.'))} "
            "Brought in by family. Outpatient antibiotics did not help."
        ),
        _head("Prior Medical Problems"),
        _say(", ".join(d.rng.sample(_PROBLEMS, 3))),
        _head("Operations"),
        _say(d.pick(("Cholecystectomy 2009.", "None reported.", "Hysterectomy, remote."))),
        _head("Outpatient Medications"),
        _say("; ".join(f"{n} {s}" for n, s in d.rng.sample(_DRUGS, 3))),
        _head("Drug Allergies"),
        _say(d.pick(("Codeine - nausea.", "None known."))),
        _head("Family Medical History"),
        _say(d.pick(("Brother with colon cancer at 60.", "Parents both with hypertension."))),
        _head("Habits"),
        _say(d.pick(("No cigarettes. Wine on weekends.", "Vapes daily. No other substances."))),
        _head("Systems Review"),
        _say("Ten systems asked about; positives are in the history above."),
        _head("Examination on Admission"),
        _say(
            f"Temp 38.4 C, pulse {d.rng.randint(70, 120)}, pressure {d.rng.randint(95, 160)}/{d.rng.randint(50, 95)}. "
            "Dry mucosa. Chest clear. CVA tenderness on the right. No focal deficits."
        ),
        _head("Impression"),
        _say(f"{d.pick(_PROBLEMS).capitalize()}, needs inpatient care."),
        _head("Admission Plan"),
        _say(
            "Admit to the ward. Blood cultures x2. IV fluids. Empiric antibiotics. VTE prophylaxis. Reassess on rounds."
        ),
    ]


def _progress(d: _Draw) -> list[Block]:
    return [
        _kv("Rounds date", d.when()),
        _say(d.pick(("Seen and examined on rounds.", "Seen at bedside with the resident team."))),
        _kv("Overnight", d.pick(("Quiet night, slept.", "One episode of emesis, resolved."))),
        _kv("Today", d.pick(("Says the pain is better, walked to the window.", "Eating half of meals."))),
        _kv("Exam today", f"T 37.1, HR {d.rng.randint(60, 100)}. Lungs clear. Wound without erythema."),
        _kv("Working diagnosis", f"{d.pick(_PROBLEMS)} - getting better"),
        _head("To do"),
        _say("- Switch IV to oral antibiotic"),
        _say("- Repeat electrolytes in AM"),
        _say("- Anticipate home in 24-48 h"),
    ]


def _consult(d: _Draw) -> list[Block]:
    return [
        _kv("Service asked", d.pick(("Renal", "Cardiac", "ID", "Vascular"))),
        _kv("Asked to weigh in by", d.clinician()),
        _kv("Question posed", f"Help with {d.pick(_PROBLEMS)}"),
        _say("Chart, imaging and medication list reviewed; patient interviewed and examined by me."),
        _head("Background"),
        _say(
            f"Known to have {d.pick(_PROBLEMS)} and {d.pick(_PROBLEMS)}. Admitted by the hospitalist service."
        ),
        _head("Our opinion"),
        _say(f"Picture fits {d.pick(_PROBLEMS)}."),
        _head("Suggested management"),
        _say(f"a) {d.pick(('Hold diuretics', 'Start rate control', 'Obtain an echocardiogram'))}"),
        _say(
            f"b) {d.pick(('Trend troponin', 'Check urine sodium', 'Hand surgery to vascular team if worse'))}"
        ),
        _say("Happy to follow along while inpatient; page with questions."),
    ]


def _discharge(d: _Draw) -> list[Block]:
    return [
        _kv("Date in", d.when()),
        _kv("Date out", d.when(d.rng.randint(2, 9))),
        _head("Why admitted"),
        _say(d.pick(_PROBLEMS).capitalize() + "."),
        _head("Clinical course"),
        _say(
            "Treated on the ward with intravenous therapy, switched to tablets on day 3, afebrile since. "
            "Walking independently before leaving."
        ),
        _head("Final problem list"),
        _say(f"1) {d.pick(_PROBLEMS)} 2) {d.pick(_PROBLEMS)}"),
        _head("Going home on these medicines"),
        *[_say(f"{n} {s} once a day") for n, s in d.rng.sample(_DRUGS, 3)],
        _kv("Where to", d.pick(("Home", "Home with visiting nurse", "Daughter's home"))),
        _kv("See your doctor", f"within 7 days ({d.clinician()})"),
        _say("Bring this paper to your next appointment."),
    ]


def _operative(d: _Draw) -> list[Block]:
    op = d.pick(_OPERATIONS)
    return [
        _kv("Operating surgeon", d.clinician()),
        _kv("Anesthetic", d.pick(("GA with ETT", "Regional block + sedation", "Spinal"))),
        _kv("Diagnosis before surgery", d.pick(_PROBLEMS)),
        _kv("Diagnosis after surgery", "as above"),
        _kv("Operation", op),
        _head("Narrative"),
        _say(
            "Identity and site verified at the sign-in and time-out. Skin painted with chlorhexidine. "
            f"The {op} was completed without difficulty. Layers closed; staples to skin. Dressing applied."
        ),
        _kv("Blood lost", f"{d.rng.randint(5, 300)} cc"),
        _kv("Tissue sent", d.pick(("Yes - to histology", "No"))),
        _kv("Counts", "correct x2"),
        _say("Extubated in theatre and taken to recovery in good condition."),
    ]


def _lab(d: _Draw) -> list[Block]:
    rows = [Block("row", ("Parameter", "Observed", "Expected", "Unit"))]
    for name, unit, low, high in d.rng.sample(_TESTS, d.rng.randint(5, 10)):
        value = d.rng.uniform(low * 0.8, high * 1.2)
        rows.append(Block("row", (name, f"{value:.1f}", f"{low}-{high}", unit)))
    return [
        _kv("Lab ID", f"Q{d.rng.randint(10**5, 10**6)}"),
        _kv("Drawn", d.when()),
        _kv("Released", d.when(1)),
        _kv("Requested by", d.clinician()),
        *rows,
        _say("* values outside the expected interval are printed for review by the requesting clinician"),
    ]


def _radiology(d: _Draw) -> list[Block]:
    study, seen = d.rng.choice(_STUDIES)
    return [
        _kv("Study requested", study),
        _kv("Why requested", d.pick(_PROBLEMS)),
        _kv("Prior imaging", d.pick(("none on file", f"{d.when(-120)}"))),
        _kv("How performed", "Routine protocol."),
        _head("Observations"),
        _say(seen),
        _head("Conclusion"),
        _say(
            d.pick(
                (
                    "No acute process.",
                    seen.split(".")[0] + ".",
                    "Correlate clinically; follow-up study suggested.",
                )
            )
        ),
        _kv("Reading radiologist", d.clinician()),
    ]


def _referral(d: _Draw) -> list[Block]:
    p = d.p
    return [
        _kv("Sending clinician", d.clinician()),
        _kv(
            "Receiving clinic",
            d.pick(("Renal clinic", "Heart rhythm service", "Spine center", "Memory clinic")),
        ),
        _kv("Requested specialty", d.pick(("Nephrology", "Electrophysiology", "Neurosurgery", "Geriatrics"))),
        _kv("Visit window", d.pick(("next available", "within 10 days", "within 4 weeks"))),
        _say(
            f"Colleague, I am sending {p.first} {p.last} to you because of {d.pick(_PROBLEMS)}. "
            "Kindly evaluate and advise; I will continue primary care."
        ),
        _say("Most recent notes and blood work go with this request."),
        _say(f"With thanks, {d.clinician()}"),
    ]


def _consent(d: _Draw) -> list[Block]:
    return [
        _say(f"I give permission for {d.clinician()} and the team to carry out: {d.pick(_OPERATIONS)}."),
        _say(
            "The doctor has explained what will be done, why, the possible complications, and other choices, "
            "including doing nothing. I agree to anesthesia as needed."
        ),
        _say("I know I can change my mind before the procedure starts."),
        _say("Sign here (patient or guardian): ______________________"),
        _say("Person who explained: ______________________   Time: ______"),
        _say("Present during signing: ______________________"),
    ]


def _prescription(d: _Draw) -> list[Block]:
    drug, strength = d.rng.choice(_DRUGS)
    return [
        _kv("Prescriber", f"{d.clinician()}   Licence # {d.rng.randint(10**5, 10**6)}"),
        _kv("Drug", drug),
        _kv("Strength", strength),
        _kv("Take", d.pick(("one each morning", "one twice a day after food", "one at night"))),
        _kv("Amount", d.pick(("28", "56", "one month supply"))),
        _kv("Repeats", d.pick(("nil", "two", "five"))),
        _kv("Generic OK", d.pick(("yes", "no"))),
        _kv("Written", d.when()),
    ]


def _insurance(d: _Draw) -> list[Block]:
    return [
        _kv("Plan member", f"{d.p.first} {d.p.last}"),
        _kv("Member number", f"OSP-{d.rng.randint(10**6, 10**7)}"),
        _kv("Plan group", f"G{d.rng.randint(100, 999)}"),
        _kv("Benefit year", f"{d.day.year}"),
        Block("row", ("Visit", "Charged", "Plan covers", "What you pay")),
        *[
            Block(
                "row",
                (
                    d.when(-i * 9),
                    f"${d.rng.randint(90, 900)}",
                    f"${d.rng.randint(50, 600)}",
                    f"${d.rng.randint(0, 90)}",
                ),
            )
            for i in range(d.rng.randint(1, 4))
        ],
        _kv("Visit cost share", f"${d.rng.choice((15, 30, 45))} per visit"),
        _say("Questions about this statement? Call member services on the back of your card."),
    ]


def _other(d: _Draw) -> list[Block]:
    return [
        _say(d.when()),
        _say(f"Hello {d.p.first},"),
        _say(
            d.pick(
                (
                    "We are moving! From next month the practice will be on Foundry Street, two blocks east.",
                    "We missed you at your visit last week. Please get in touch to book a new time.",
                    "Over the holidays the front office closes at noon on Fridays.",
                    "Please find attached the pages you asked us to send.",
                )
            )
        ),
        _say("Parking is free in the new lot. The phone number stays the same."),
        _say("Warm wishes, the office team"),
    ]


BODIES: Final[dict[str, Callable[[_Draw], list[Block]]]] = {
    "face_sheet": _face,
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


def held_out_document(doc_type: str, patient: FakePatient, seed: int, titled: bool) -> HeldOutDoc:
    rng = random.Random(f"heldout:{doc_type}:{seed}")
    d = _Draw(rng, patient)
    org, address = rng.choice(_ORGS)
    p = patient
    header = [
        Block("letterhead", (org.upper(),)),
        Block("address", (address,)),
        Block("banner", (f"{p.last}, {p.first}  *  MRN {p.mrn}  *  born {p.dob.isoformat()}",)),
    ]
    if titled:
        title = rng.choice(TITLES[doc_type])
        header.insert(rng.choice((2, 3)), Block("title", (title.upper() if rng.random() < 0.5 else title,)))
    layout = Layout(
        font=rng.choice(sorted(FONTS)),
        point_size=rng.choice((8.5, 9.0, 13.0)),  # outside the training sizes (9.5-12)
        margin_inches=rng.choice((0.5, 1.2)),  # outside the training margins (0.6-1.0)
        title_centered=rng.random() < 0.5,
        letterhead_centered=True,
        field_column=rng.choice((0.0, 0.45, 0.5)),
        rule_under_letterhead=False,
        uppercase_headings=rng.random() < 0.5,
        line_spacing=1.6,
    )
    body = BODIES[doc_type](d)
    return HeldOutDoc(doc_type, (*header, Block("blank", ("",)), *body), layout, titled)
