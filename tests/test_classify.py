"""Document typing and identifier extraction over realistic (and OCR-damaged) text."""

from __future__ import annotations

import datetime as dt

import pytest

from chartclerk.classify.doctype import DOC_TYPES, LOINC, classify_document
from chartclerk.classify.identifiers import extract_identifiers, parse_date
from chartclerk.classify.models import PersonName
from chartclerk.settings import ClassifySettings

SETTINGS = ClassifySettings()
TODAY = dt.date(2024, 6, 1)

LETTERHEAD = "MERCY GENERAL HOSPITAL\n1200 Harbor Blvd, Hartford, CT 06101\nTel (860) 555-0100\n\n"

DOCS: dict[str, list[str]] = {
    "discharge_summary": [
        LETTERHEAD
        + """DISCHARGE SUMMARY
Patient: SMITH, JOHN A.   MRN: 00123456   DOB: 01/02/1960
Admission Date: 03/01/2024   Discharge Date: 03/05/2024
Discharge Diagnoses: 1. Community acquired pneumonia 2. COPD exacerbation
Hospital Course: The patient was admitted with fever and productive cough, treated with
IV ceftriaxone and azithromycin, and improved steadily. Labs on discharge: WBC 9.1.
Condition at Discharge: Stable.
Discharge Medications: amoxicillin-clavulanate 875 mg PO BID x 5 days.
Follow-up: PCP in 1 week.""",
        """HOSPITAL DISCHARGE SUMMARV
Pati ent: D0E, JANE     MRN 4456 12
Date of Admissi0n: 02/10/2024
Hosp ital Course: uneventful recovery after elective cholecystectomy.
Discharge Medicati0ns: acetaminophen 500 mg q6h prn
Disposition: home""",
        # no title line: typed from the body
        """Admission date: 01/03/2024  Date of discharge: 01/09/2024
Principal diagnosis: acute pancreatitis
Hospital course: NPO, IV fluids, pain control; diet advanced on day 4.
Discharge instructions: low fat diet, no alcohol.
Discharge medications: none new. Follow up with GI in 2 weeks.""",
    ],
    "history_physical": [
        LETTERHEAD
        + """HISTORY AND PHYSICAL
Chief Complaint: chest pain
History of Present Illness: 64 year old man with 2 hours of substernal chest pressure.
Past Medical History: hypertension, hyperlipidemia
Past Surgical History: appendectomy
Family History: father with MI at 55
Social History: former smoker
Review of Systems: negative except as above
Physical Examination: BP 150/90, HR 88
Assessment and Plan: admit to telemetry, serial troponins""",
        """ADMISSION H&P
CC: fall
HPI: 82F found on floor.
PMH: osteoporosis  PSH: hip ORIF
Family history: noncontributory  Social history: lives alone
ROS: 10 point negative
Physical exam: bruising left hip""",
        """Chief complaint: abdominal pain
History of present illness: 3 days of RLQ pain.
Past medical history: none. Past surgical history: none.
Family history: negative. Social history: denies tobacco.
Review of systems: as per HPI. Allergies: NKDA
Physical exam: tender at McBurney's point. Assessment and plan: admit, surgery consult.""",
    ],
    "progress_note": [
        LETTERHEAD
        + """PROGRESS NOTE
Hospital Day #3
S: Patient reports less shortness of breath. Tolerating diet.
O: Vitals: T 98.6 HR 82 BP 128/76 RR 16 SpO2 95% RA
A: Pneumonia, improving.
P: Continue current antibiotics, ambulate, possible discharge tomorrow.""",
        """Daily Pr0gress N0te - Medicine
Subjective: no acute events overnight.
Objective: afebrile, vital signs stable
Assessment: CHF exacerbation, improving
Plan: continue IV furosemide""",
        """Subjective: feels better, pain 3/10.
Objective: incision clean and dry, POD #2, vitals stable overnight.
Assessment: recovering as expected.
Plan: advance diet, continue current regimen.""",
    ],
    "consult_note": [
        LETTERHEAD
        + """CARDIOLOGY CONSULTATION
Requested by: Dr. Adams, Hospitalist
Reason for Consultation: new atrial fibrillation
History of Present Illness: palpitations since yesterday.
Impression: atrial fibrillation with rapid ventricular response.
Recommendations: 1. Rate control with metoprolol 2. Anticoagulation with apixaban
Thank you for this consult. We will follow.""",
        """C0NSULT N0TE - Nephr0logy
Reason for consult: AKI
Recommendations: hold lisinopril, renal ultrasound, recheck BMP in AM.
Will sign off if creatinine improves.""",
        """Reason for consultation: uncontrolled diabetes.
Thank you for asking us to see this patient.
Recommendations: start basal insulin 10 units nightly. We will follow along.""",
    ],
    "operative_report": [
        LETTERHEAD
        + """OPERATIVE REPORT
Date of Surgery: 04/02/2024
Preoperative Diagnosis: acute appendicitis
Postoperative Diagnosis: same
Procedure Performed: laparoscopic appendectomy
Surgeon: R. Patel, MD   Assistant: none
Anesthesia: general endotracheal
Estimated Blood Loss: 10 mL
The patient was taken to the operating room, prepped and draped in the usual sterile fashion.
Sponge and needle counts were correct x2.""",
        """0PERATIVE REP0RT
Pre-operative diagnosis: left inguinal hernia
Post-operative diagnosis: same
Procedures performed: open hernia repair with mesh
EBL: minimal  Complications: none  Drains: none""",
        """Preoperative diagnosis: cholelithiasis. Postoperative diagnosis: same.
Procedure performed: laparoscopic cholecystectomy.
Estimated blood loss: 20 mL. Specimens: gallbladder.
Patient was prepped and draped; incision closed with sutures.""",
    ],
    "lab_report": [
        LETTERHEAD
        + """LABORATORY REPORT
Accession: L24-556677   Collected: 03/02/2024 06:00
COMPLETE BLOOD COUNT
Test          Result   Units     Reference Range
WBC           11.2 H   K/uL      4.0-11.0
Hemoglobin    12.1     g/dL      13.5-17.5
Platelets     250      K/uL      150-400
Sodium        138      mmol/L    135-145
Potassium     4.1      mmol/L    3.5-5.1
Creatinine    1.0      mg/dL     0.7-1.3""",
        """Laborat0ry Rep0rt
Specimen collected: 05/01/2024
Glucose 102 mg/dL (70-99) H
BUN 18 mg/dL (7-20)
Creatinine 0.9 mg/dL""",
        """Test Result Flag Units Ref range
Hemoglobin 9.8 L g/dL 12.0-16.0
Hematocrit 30 L %
Sodium 132 L mmol/L 135-145
Potassium 5.6 H mmol/L 3.5-5.1""",
    ],
    "radiology_report": [
        LETTERHEAD
        + """RADIOLOGY REPORT
EXAM: CT ABDOMEN AND PELVIS WITH IV CONTRAST
Clinical History: abdominal pain
Technique: axial images after IV contrast.
Comparison: none.
Findings: The appendix is dilated to 12 mm with surrounding fat stranding.
IMPRESSION: Acute appendicitis.
Electronically signed by: L. Chen, MD, Radiologist""",
        """XR CHEST 2 VIEWS
X-Ray Chest PA and Lateral
FINDINGS: Lungs are clear. No effusion.
IMPRESSION: No acute cardiopulmonary process.""",
        """Exam: chest
Comparison: prior study 2023.
Findings: there is a 2 cm opacity in the right lower lobe.
Impression: right lower lobe pneumonia.""",
    ],
    "referral": [
        LETTERHEAD
        + """REFERRAL
March 4, 2024
Dear Dr. Okafor,
Re: John Smith
I am referring this 64 year old man for evaluation of exertional chest pain.
Reason for referral: abnormal stress test.
Thank you for seeing him. Sincerely, Dr. Adams""",
        """Referral Form
Referring provider: Dr. Brown
Referred to: Orthopedics
Reason for referral: chronic knee pain, please evaluate and treat""",
        """Dear Dr. Lee,
I would like to refer Mrs. Jones to your clinic for evaluation of her thyroid nodule.
Please see at your earliest convenience. Thank you for seeing her.
Sincerely,""",
    ],
    "consent_form": [
        LETTERHEAD
        + """INFORMED CONSENT FOR SURGERY
I hereby authorize Dr. Patel and assistants to perform: laparoscopic appendectomy.
The risks, benefits and alternatives have been explained to me. I understand that
no guarantee has been made. I consent voluntarily.
Signature of Patient or Legal Representative: ____________________  Date/Time: ________
Witness: ____________________""",
        """C0NSENT F0RM
I c0nsent to the procedure described above and authorize the release of information.
Signature: ______________   Witness: ______________""",
        """I hereby authorize the physicians of this hospital to administer anesthesia.
I understand the risks. Signature of patient ____________ Witness ____________""",
    ],
    "prescription": [
        """Dr. Maria Gomez, MD  NPI 1234567890  DEA # AG1234567
Rx
Patient: SMITH, JOHN   DOB: 01/02/1960
Amoxicillin 500 mg capsules
Sig: 1 capsule by mouth three times daily x 10 days
Dispense: #30   Refills: 0
Substitution permitted""",
        """PRESCRIPTI0N
Lisinopril 10 mg tablets
Sig: take 1 tab PO daily
Disp: 90  Refills: 3""",
        """Metformin 500 mg tablet
Sig: 1 tablet by mouth BID with meals
Dispense 180 tablets, refills 1. Dispense as written.""",
    ],
    "insurance": [
        """INSURANCE CARD
BlueShield PPO
Member ID: XJH123456789   Group Number: 88421
Subscriber: SMITH, JOHN
Copay: PCP $25  Specialist $50   Deductible: $1500
Payer ID: 00123""",
        """EXPLANATION OF BENEFITS
Claim number: 2024-77812
Policy Number: P-99812
Amount billed $1200  Plan paid $900  Patient responsibility (deductible) $300""",
        """Policy number: 556677   Group number: 1234
Subscriber name: Jane Doe
Payer: Aetna  Effective date: 01/01/2024  Coverage: active""",
    ],
    "face_sheet": [
        LETTERHEAD
        + """ADMISSION FACE SHEET
Patient Name: SMITH, JOHN A    MRN: 00123456   Account Number: 9988776
DOB: 01/02/1960   Sex: M   Marital Status: Married   Religion: Catholic
Address: 12 Elm St, Hartford   Phone: 860-555-0199
Emergency Contact: Mary Smith (wife) 860-555-0123
Guarantor: John Smith   Employer: retired
Primary Insurance: Medicare   Policy Number: 1EG4-TE5-MK72
Attending Physician: Dr. Adams""",
        """PATIENT REGISTRATI0N
Name: Doe, Jane   DOB 5/6/1971   Sex: F
Next of kin: Richard Doe   Relationship: husband
Guarantor: self   Primary insurance: Aetna""",
        """Marital status: single   Religion: none
Emergency contact: Tom Brown, brother
Guarantor: self   Employer: ACME Corp
Primary insurance: Cigna  Secondary insurance: none
Attending physician: Dr. White""",
    ],
}

CASES = [(doc_type, text) for doc_type, texts in DOCS.items() for text in texts]
CASE_IDS = [f"{doc_type}-{i}" for doc_type, texts in DOCS.items() for i in range(len(texts))]


def test_doc_types_and_loinc_cover_each_other() -> None:
    assert len(DOC_TYPES) == 13
    assert set(LOINC) == set(DOC_TYPES)
    assert LOINC["discharge_summary"] == "18842-5"
    assert LOINC["other"] == "34109-9"


@pytest.mark.parametrize(("expected", "text"), CASES, ids=CASE_IDS)
def test_realistic_documents_are_typed(expected: str, text: str) -> None:
    result = classify_document(text, SETTINGS)
    assert result.doc_type == expected, result.scores[:3]
    assert result.loinc == LOINC[expected]
    assert result.confidence >= SETTINGS.min_confidence


@pytest.mark.parametrize("doc_type", [t for t in DOC_TYPES if t != "other"])
def test_titled_documents_are_confident(doc_type: str) -> None:
    result = classify_document(DOCS[doc_type][0], SETTINGS)
    assert result.doc_type == doc_type
    assert result.confidence >= 0.8


def test_scores_hold_every_type_best_first() -> None:
    result = classify_document(DOCS["lab_report"][0], SETTINGS)
    assert {t for t, _ in result.scores} == set(DOC_TYPES)
    values = [s for _, s in result.scores]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in values)
    assert result.scores[0][0] == result.doc_type


@pytest.mark.parametrize("text", ["", "   \n\n  ", "x7#@ ;; lorem ipsum qwerty 12 zz", "Page 1 of 1"])
def test_empty_or_garbage_text_is_other_with_low_confidence(text: str) -> None:
    result = classify_document(text, SETTINGS)
    assert result.doc_type == "other"
    assert result.loinc == "34109-9"
    assert result.confidence < SETTINGS.min_confidence


def test_title_phrase_in_a_field_or_letterhead_is_not_a_title() -> None:
    # "CT" in an address and "Insurance:" as a field do not make a radiology report or insurance form.
    result = classify_document(DOCS["discharge_summary"][0] + "\nInsurance: Medicare", SETTINGS)
    assert result.doc_type == "discharge_summary"


# --- identifiers ------------------------------------------------------------------------------------


def ids(text: str) -> tuple[tuple[str, ...], tuple[PersonName, ...], tuple[dt.date, ...]]:
    found = extract_identifiers(text, today=TODAY)
    return found.mrns, found.names, found.dobs


@pytest.mark.parametrize(
    ("text", "mrn"),
    [
        ("MRN: 00123456", "00123456"),
        ("MRN 123456", "123456"),
        ("MRN #: 123456", "123456"),
        ("MRN# 123456", "123456"),
        ("M.R.N. 123456", "123456"),
        ("Medical Record No. 123456", "123456"),
        ("Medical Record Number: 123456", "123456"),
        ("Med Rec # 123456", "123456"),
        ("Chart #: 123456", "123456"),
        ("Patient ID: 123456", "123456"),
        ("mrn:0O12l45", "0012145"),  # OCR: O -> 0, l -> 1
        ("MRN: 12I4|6", "121416"),
        ("MRN: 123-456", "123-456"),
    ],
)
def test_mrn_labels_and_ocr_confusions(text: str, mrn: str) -> None:
    assert ids(f"Some header\n{text}  DOB: 01/02/1960\n")[0] == (mrn,)


@pytest.mark.parametrize(
    "text",
    ["Account #: pending", "Phone: 555-1234", "MRN: pending", "MRN: OIl", "Room 123456", "Claim 123456"],
)
def test_unlabeled_or_non_numeric_values_are_not_mrns(text: str) -> None:
    assert ids(text)[0] == ()


def test_mrns_are_deduplicated_in_order_of_appearance() -> None:
    text = "MRN: 0012345\nChart #: 777\nMRN 12345 (again)\nPatient ID: 888999"
    assert ids(text)[0] == ("0012345", "777", "888999")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Patient: SMITH, JOHN A.", PersonName("SMITH", "JOHN", "A")),
        ("Patient: SMITH, JOHN", PersonName("SMITH", "JOHN")),
        ("Name: John Smith", PersonName("SMITH", "JOHN")),
        ("Name: John Q. Public", PersonName("PUBLIC", "JOHN", "Q")),
        ("Patient Name: Smith, John", PersonName("SMITH", "JOHN")),
        ("PATIENT NAME; O'Brien, Mary-Kate", PersonName("OBRIEN", "MARY KATE")),
        ("Re: Robert Smith Jr.", PersonName("SMITH", "ROBERT")),
        ("Name: Mr. José Álvarez-Ruiz", PersonName("ALVAREZ RUIZ", "JOSE")),
        ("Patient: de la Cruz, Maria", PersonName("DE LA CRUZ", "MARIA")),
        ("Patient: SMITH, JOHN   MRN: 123456  DOB: 01/02/1960", PersonName("SMITH", "JOHN")),
        ("Name: John Smith DOB: 1/2/60", PersonName("SMITH", "JOHN")),
        ("Patient Name: J0HN 5MITH", PersonName("SMITH", "JOHN")),
    ],
)
def test_name_labels(text: str, name: PersonName) -> None:
    assert ids(text)[1] == (name,)


@pytest.mark.parametrize(
    "text",
    [
        "Physician Name: Dr. Adams Brown",
        "Guarantor Name: Mary Smith",
        "Emergency Contact\nName: Mary Smith",
        "Re: Referral for cardiology",
        "Patient: Smith",
        "The patient was seen today by John Smith",
        "Name:",
    ],
)
def test_other_peoples_names_and_non_names_are_ignored(text: str) -> None:
    assert ids(text)[1] == ()


def test_patient_label_after_another_partys_block_still_counts() -> None:
    text = "Guarantor\nName: Mary Smith   DOB: 01/02/1960\nPatient: SMITH, JOHN   DOB: 03/04/1950"
    assert ids(text)[1:] == ((PersonName("SMITH", "JOHN"),), (dt.date(1950, 3, 4),))


def test_label_wrapped_at_the_end_of_a_line() -> None:
    text = "PATIENT NAME:\nRODRIGUEZ, JOSHUA\nMEDICAL RECORD NO:\n3676534\nDATE OF BIRTH:\n02/27/1981"
    assert ids(text) == (("3676534",), (PersonName("RODRIGUEZ", "JOSHUA"),), (dt.date(1981, 2, 27),))


@pytest.mark.parametrize(
    "text",
    [
        "Patlent: LEE, DONNA  MRN: 6171427  D0B: 03/19/1995",
        "Name: DonnaLee DO8: 1995-03-19 MR#: 6171427",
        "PATlENT NAME: LEE, DONNA MEDICAL RECORD NO: 6171427\nDATEOFBIRTH: 03/19/1995",
        "PATIENTNAME: LEE, DONNAMEDlCAL REC0RD N0: 6171427\nDOB: O3/l9/1995",
        "Patient: LEE, DONNAMRN: 6171427 Sex: FDOB: 03/19/1995",
    ],
)
def test_ocr_damaged_labels(text: str) -> None:
    assert ids(text) == (("6171427",), (PersonName("LEE", "DONNA"),), (dt.date(1995, 3, 19),))


def test_names_are_deduplicated_in_order() -> None:
    text = "Patient: SMITH, JOHN\nRe: Jane Doe\nPatient Name: Smith, John"
    assert ids(text)[1] == (PersonName("SMITH", "JOHN"), PersonName("DOE", "JANE"))


@pytest.mark.parametrize(
    ("text", "dob"),
    [
        ("DOB: 01/02/1960", dt.date(1960, 1, 2)),
        ("DOB 1/2/60", dt.date(1960, 1, 2)),
        ("D.O.B.: 1960-01-02", dt.date(1960, 1, 2)),
        ("Date of Birth: Jan 2, 1960", dt.date(1960, 1, 2)),
        ("Date of Birth: January 2, 1960", dt.date(1960, 1, 2)),
        ("Birth Date: 02-JAN-1960", dt.date(1960, 1, 2)),
        ("DOB: 02.01.1960", dt.date(1960, 1, 2)),
        ("Born: 2 Jan 1960", dt.date(1960, 1, 2)),
        ("Born on Sept. 14, 1947", dt.date(1947, 9, 14)),
        ("DOB/Age: 01/02/1960 (64y)", dt.date(1960, 1, 2)),
        ("DOB: 25/12/1950", dt.date(1950, 12, 25)),  # only a day/month reading is valid
        ("DOB: O1/O2/196O", dt.date(1960, 1, 2)),  # OCR O for 0
        ("DOB: 1/2/15", dt.date(2015, 1, 2)),  # two-digit year: latest not in the future
        ("DOB: 1/2/30", dt.date(1930, 1, 2)),
        ("DOB: 05-06-1971", dt.date(1971, 5, 6)),
    ],
)
def test_dob_labels_and_formats(text: str, dob: dt.date) -> None:
    assert ids(text)[2] == (dob,)


@pytest.mark.parametrize(
    "text",
    [
        "Admission Date: 01/02/1960",
        "Seen on 01/02/1960 for follow-up",
        "DOB: 13/13/1960",
        "DOB: 01/02/2030",  # in the future
        "Subscriber DOB: 01/02/1960",
        "Guarantor\nName: Mary Smith\nDOB: 01/02/1960",
        "DOB: unknown",
    ],
)
def test_unlabeled_invalid_or_other_party_dates_are_not_dobs(text: str) -> None:
    assert ids(text)[2] == ()


def test_dobs_are_deduplicated_in_order() -> None:
    text = "DOB: 03/04/1970\nDate of Birth: March 4, 1970\nDOB: 1/2/60"
    assert ids(text)[2] == (dt.date(1970, 3, 4), dt.date(1960, 1, 2))


def test_parse_date_rejects_garbage() -> None:
    assert parse_date("hello", TODAY) is None
    assert parse_date("02/30/1960", TODAY) is None


def test_whole_document_identifiers() -> None:
    found = extract_identifiers(DOCS["face_sheet"][0], today=TODAY)
    assert found.mrns == ("00123456",)
    assert found.names == (PersonName("SMITH", "JOHN", "A"),)
    assert found.dobs == (dt.date(1960, 1, 2),)


def test_no_identifiers_in_empty_text() -> None:
    found = extract_identifiers("", today=TODAY)
    assert (found.mrns, found.names, found.dobs) == ((), (), ())
