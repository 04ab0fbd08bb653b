"""The real-world-style family for ``bench/classify.py --family realworld``.

Transcribed clinical notes as they come out of dictation: mostly no title line, section
headings in capitals with a colon and the text on the same line ("HISTORY OF PRESENT
ILLNESS: This 54-year-old..."), long run-on sentences, specialty vocabulary (urology,
bariatrics, cardiology, neurology...), sections in varying orders, letters to and from
referring physicians. Eight narrative types, the ones whose sections overlap most:
consultation, history and physical, progress note, discharge summary, operative
report, radiology report, referral letter, consent.

Written apart from the training templates (``chartclerk/classify/training/templates``)
and never used to train: its sentences, its specialty details and its section orders are
its own. What it shares with them is the domain: a consultant still thanks the referring
doctor, an admission still has a review of systems, a surgeon still loses blood.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from chartclerk.classify.training.render import Block, Layout
from chartclerk.tests.scans import FakePatient

TYPES: Final = (
    "consult_note",
    "history_physical",
    "progress_note",
    "discharge_summary",
    "operative_report",
    "radiology_report",
    "referral",
    "consent_form",
)


@dataclass(frozen=True, slots=True)
class Specialty:
    name: str
    clinician: str  # "urologist"
    problems: tuple[str, ...]
    complaints: tuple[str, ...]
    findings: tuple[str, ...]
    studies: tuple[str, ...]
    operations: tuple[str, ...]
    drugs: tuple[str, ...]
    advice: tuple[str, ...]


SPECIALTIES: Final = (
    Specialty("urology", "urologist",
              ("benign prostatic hypertrophy", "gross hematuria", "left ureteral calculus", "elevated PSA",
               "recurrent cystitis", "erectile dysfunction", "urinary retention"),
              ("difficulty voiding", "blood in the urine", "left flank pain radiating to the groin",
               "nocturia four to five times a night", "weak stream and hesitancy"),
              ("prostate is approximately 40 grams, smooth, without nodules", "no costovertebral angle tenderness",
               "testes descended bilaterally without masses", "bladder not palpable"),
              ("CT urogram shows a 6 mm stone at the left ureterovesical junction",
               "postvoid residual was 280 mL by bladder scan", "urinalysis with 20-50 RBCs per high-power field"),
              ("cystoscopy with left ureteroscopy, laser lithotripsy and stent placement",
               "transurethral resection of bladder tumor", "holmium laser enucleation of the prostate"),
              ("tamsulosin 0.4 mg", "finasteride 5 mg", "oxybutynin 5 mg"),
              ("a trial of tamsulosin and a repeat KUB in two weeks", "cystoscopy to complete the hematuria workup",
               "repeat PSA in three months")),
    Specialty("bariatrics", "bariatric surgeon",
              ("morbid obesity with a BMI of 44", "obesity with obstructive sleep apnea", "weight regain after gastric banding"),
              ("inability to lose weight despite multiple diets", "progressive weight gain over ten years",
               "knee pain limiting exercise because of weight"),
              ("abdomen obese, soft, no hernias palpated", "BMI 46.2", "acanthosis nigricans of the neck"),
              ("upper GI series shows a small hiatal hernia", "sleep study with an AHI of 38"),
              ("laparoscopic Roux-en-Y gastric bypass", "laparoscopic sleeve gastrectomy", "removal of adjustable gastric band"),
              ("phentermine 37.5 mg", "ursodiol 300 mg", "a chewable multivitamin"),
              ("nutrition and psychology evaluations before surgery", "a supervised diet for six months",
               "attendance at our support group")),
    Specialty("cardiology", "cardiologist",
              ("paroxysmal atrial fibrillation", "non-ST elevation myocardial infarction", "severe aortic stenosis",
               "ischemic cardiomyopathy with an ejection fraction of 30%", "supraventricular tachycardia"),
              ("exertional chest tightness", "palpitations and lightheadedness", "orthopnea and two-pillow dyspnea",
               "near syncope while climbing stairs"),
              ("grade 3/6 systolic ejection murmur at the right upper sternal border", "irregularly irregular rhythm",
               "jugular venous pressure 10 cm", "trace bilateral ankle edema"),
              ("echocardiogram with an ejection fraction of 35% and moderate mitral regurgitation",
               "troponin peaked at 2.1", "Holter monitor showed runs of atrial fibrillation"),
              ("left heart catheterization with coronary angiography and stent to the LAD",
               "dual-chamber pacemaker implantation", "transesophageal echocardiogram guided cardioversion"),
              ("metoprolol succinate 50 mg", "apixaban 5 mg", "atorvastatin 80 mg", "sacubitril-valsartan"),
              ("a nuclear stress test", "anticoagulation given a CHA2DS2-VASc score of 4", "titration of the beta blocker")),
    Specialty("neurology", "neurologist",
              ("new-onset seizure", "migraine with aura", "left hemispheric TIA", "Parkinson disease",
               "peripheral neuropathy", "multiple sclerosis flare"),
              ("episodes of word-finding difficulty", "tremor of the right hand", "numbness of both feet",
               "a generalized convulsion witnessed by his wife"),
              ("cranial nerves II through XII intact", "resting tremor of the right hand with cogwheeling",
               "decreased vibration sense at the toes", "no pronator drift"),
              ("MRI of the brain shows scattered T2 hyperintensities", "EEG with left temporal sharp waves",
               "nerve conduction studies consistent with axonal neuropathy"),
              ("lumbar puncture", "left carotid endarterectomy"),
              ("levetiracetam 500 mg", "topiramate 25 mg", "carbidopa-levodopa 25/100", "gabapentin 300 mg"),
              ("an EEG and MRI with epilepsy protocol", "no driving for six months per state law",
               "a headache diary")),
    Specialty("gastroenterology", "gastroenterologist",
              ("iron deficiency anemia with heme-positive stools", "ulcerative colitis", "chronic hepatitis C",
               "gastroesophageal reflux disease", "dysphagia to solids"),
              ("rectal bleeding", "epigastric burning after meals", "food sticking in the lower chest",
               "diarrhea six times a day"),
              ("abdomen soft with mild epigastric tenderness", "no hepatosplenomegaly", "rectal exam with brown stool, guaiac positive"),
              ("hemoglobin 8.9 with ferritin of 6", "ultrasound shows a coarsened liver echotexture"),
              ("colonoscopy with cold snare polypectomy", "upper endoscopy with esophageal dilation",
               "ERCP with sphincterotomy and stone extraction"),
              ("pantoprazole 40 mg", "mesalamine 1.2 g", "sucralfate 1 g"),
              ("an upper endoscopy and colonoscopy", "a trial of twice-daily PPI", "celiac serologies")),
    Specialty("orthopedics", "orthopedic surgeon",
              ("right knee osteoarthritis", "left rotator cuff tear", "displaced distal radius fracture",
               "lumbar spinal stenosis", "De Quervain tenosynovitis"),
              ("right knee pain for two years", "inability to lift the left arm overhead", "a fall on an outstretched hand",
               "buttock and leg pain with walking"),
              ("positive drop arm sign on the left", "medial joint line tenderness with crepitus",
               "range of motion 5 to 110 degrees", "neurovascularly intact distally"),
              ("x-rays show bone-on-bone medial compartment narrowing", "MRI confirms a full-thickness supraspinatus tear"),
              ("right total knee arthroplasty", "arthroscopic rotator cuff repair",
               "open reduction and internal fixation of the distal radius"),
              ("meloxicam 15 mg", "tramadol 50 mg"),
              ("a corticosteroid injection", "formal physical therapy twice weekly", "weight-bearing as tolerated")),
    Specialty("obstetrics and gynecology", "gynecologist",
              ("menorrhagia with uterine fibroids", "postmenopausal bleeding", "pelvic organ prolapse",
               "complex ovarian cyst", "abnormal Pap smear with HSIL"),
              ("heavy periods lasting ten days", "pelvic pressure", "spotting two years after menopause"),
              ("uterus enlarged to 14-week size", "cervix without lesions", "no adnexal masses"),
              ("pelvic ultrasound shows a 5 cm intramural fibroid", "endometrial stripe of 9 mm"),
              ("total laparoscopic hysterectomy with bilateral salpingectomy", "dilation and curettage with hysteroscopy",
               "loop electrosurgical excision procedure"),
              ("medroxyprogesterone 10 mg", "tranexamic acid 650 mg"),
              ("an endometrial biopsy", "hysteroscopy", "a repeat ultrasound in six weeks")),
    Specialty("pulmonology", "pulmonologist",
              ("chronic obstructive pulmonary disease", "a 2 cm right upper lobe nodule", "idiopathic pulmonary fibrosis",
               "moderate persistent asthma", "sarcoidosis"),
              ("chronic cough with sputum", "dyspnea walking one block", "wheezing at night"),
              ("diminished breath sounds with prolonged expiration", "fine bibasilar Velcro crackles", "no clubbing"),
              ("CT chest with a spiculated right upper lobe nodule", "FEV1 48% of predicted"),
              ("bronchoscopy with endobronchial ultrasound and transbronchial biopsy", "thoracentesis"),
              ("tiotropium 18 mcg", "fluticasone-salmeterol 250/50", "prednisone 40 mg"),
              ("a PET scan", "pulmonary rehabilitation", "full pulmonary function testing")),
    Specialty("nephrology", "nephrologist",
              ("chronic kidney disease stage 4", "hyperkalemia", "nephrotic-range proteinuria", "acute tubular necrosis"),
              ("rising creatinine on routine labs", "leg swelling and foamy urine"),
              ("2+ pitting edema to the knees", "no asterixis"),
              ("creatinine 3.4 from a baseline of 2.1", "urine protein to creatinine ratio of 5.2"),
              ("tunneled dialysis catheter placement", "left brachiocephalic arteriovenous fistula creation"),
              ("sodium bicarbonate 650 mg", "furosemide 80 mg", "calcitriol 0.25 mcg"),
              ("a renal ultrasound and serologies", "avoidance of NSAIDs and contrast", "dialysis education")),
    Specialty("otolaryngology", "otolaryngologist",
              ("chronic rhinosinusitis with nasal polyps", "obstructive sleep apnea with tonsillar hypertrophy",
               "right vocal cord paralysis", "recurrent acute otitis media"),
              ("nasal obstruction and loss of smell", "hoarseness for three months", "snoring with witnessed apneas"),
              ("tonsils 3+ bilaterally", "bilateral nasal polyps on anterior rhinoscopy", "tympanic membranes intact"),
              ("CT sinuses with pansinus opacification", "laryngoscopy shows a fixed right vocal fold"),
              ("functional endoscopic sinus surgery", "tonsillectomy and adenoidectomy", "bilateral myringotomy with tubes"),
              ("mometasone nasal spray", "amoxicillin-clavulanate 875 mg"),
              ("saline irrigations", "a sleep study", "audiogram")),
    Specialty("hematology and oncology", "oncologist",
              ("newly diagnosed diffuse large B-cell lymphoma", "stage II breast cancer", "chronic lymphocytic leukemia",
               "pancytopenia", "metastatic colon cancer"),
              ("night sweats and weight loss", "a palpable left breast mass", "fatigue and easy bruising"),
              ("bulky left cervical lymphadenopathy", "spleen tip palpable", "no petechiae"),
              ("CT shows mediastinal adenopathy", "bone marrow biopsy pending", "CEA of 42"),
              ("port-a-cath placement", "excisional lymph node biopsy"),
              ("ondansetron 8 mg", "allopurinol 300 mg"),
              ("a PET-CT for staging", "tumor board review", "chemotherapy teaching")),
    Specialty("psychiatry", "psychiatrist",
              ("major depressive disorder, recurrent, severe", "bipolar I disorder, current episode manic",
               "generalized anxiety disorder", "alcohol use disorder"),
              ("depressed mood and passive suicidal ideation", "racing thoughts and no sleep for three days"),
              ("mood described as down, affect constricted", "thought process linear", "denies homicidal ideation"),
              ("PHQ-9 of 21", "lithium level 0.4"),
              ("electroconvulsive therapy",),
              ("sertraline 100 mg", "quetiapine 100 mg", "lithium carbonate 300 mg"),
              ("weekly psychotherapy", "a safety plan reviewed with the family", "titration of the antidepressant")),
    Specialty("podiatry", "podiatrist",
              ("diabetic foot ulcer of the left hallux", "hallux valgus", "onychomycosis", "plantar fasciitis"),
              ("a wound on the left great toe", "heel pain with the first steps in the morning"),
              ("1.5 cm ulcer with a granular base, no probe to bone", "dorsalis pedis pulses diminished"),
              ("x-ray of the foot without osteomyelitis",),
              ("left first metatarsal bunionectomy", "excisional debridement of the ulcer"),
              ("terbinafine 250 mg", "silver alginate dressings"),
              ("offloading in a surgical shoe", "arterial studies", "weekly debridement")),
)  # fmt: skip

_NAMES: Final = ("Adeyemi", "Brannigan", "Castellanos", "Dimitriou", "Ekwueme", "Fairbanks", "Gustafsson",
                 "Halvorsen", "Ishikawa", "Juarez", "Kaczmarek", "Lindqvist", "Mbeki", "Nowicki", "Okonkwo",
                 "Pellegrino", "Rasmussen", "Szabo", "Thibodeaux", "Vantongeren", "Wojcik", "Zielinski")  # fmt: skip


class _Note:
    """Random draws for one note."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.spec = rng.choice(SPECIALTIES)
        self.age = rng.randint(18, 92)
        self.female = rng.random() < 0.5
        self.she = "she" if self.female else "he"
        self.her = "her" if self.female else "his"
        self.him = "her" if self.female else "him"
        self.man = (
            rng.choice(("female", "woman", "lady"))
            if self.female
            else rng.choice(("male", "man", "gentleman"))
        )
        self.problem = rng.choice(self.spec.problems)
        self.complaint = rng.choice(self.spec.complaints)
        self.referrer = f"Dr. {rng.choice(_NAMES)}"
        self.author = f"Dr. {rng.choice(_NAMES)}"
        self.surname = rng.choice(_NAMES)

    def one(self, *options: str) -> str:
        return self.rng.choice(options)

    def any(self, pool: tuple[str, ...], low: int = 1, high: int = 2) -> list[str]:
        return self.rng.sample(pool, min(len(pool), self.rng.randint(low, high)))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    @property
    def who(self) -> str:
        return f"{self.age}-year-old {self.man}"

    def date(self) -> str:
        return (
            f"{self.rng.randint(1, 12)}/{self.rng.randint(1, 28)}/{self.rng.choice((2019, 2021, 2023, 2024))}"
        )

    def vitals(self) -> str:
        r = self.rng
        return self.one(
            f"Blood pressure {r.randint(104, 168)}/{r.randint(60, 98)}, pulse {r.randint(58, 110)}, "
            f"respirations {r.randint(12, 22)}, temperature {r.choice(('97.8', '98.4', '99.0', '100.9'))}",
            f"BP {r.randint(104, 168)}/{r.randint(60, 98)}; HR {r.randint(58, 110)}; sat {r.randint(91, 99)}% RA; "
            f"weight {r.randint(110, 320)} lbs",
            f"VITAL SIGNS: Stable and afebrile, pulse {r.randint(58, 110)}.",
        )

    def pmh(self) -> str:
        other = self.rng.sample(
            ("hypertension", "diabetes mellitus type 2", "hyperlipidemia", "GERD", "hypothyroidism",
             "depression", "coronary artery disease", "osteoarthritis", "asthma", "atrial fibrillation"),
            self.rng.randint(1, 4),
        )  # fmt: skip
        return ", ".join(other).capitalize() + "."

    def meds(self) -> str:
        drugs = self.any(self.spec.drugs, 1, 3) + self.rng.sample(
            ("lisinopril 20 mg daily", "metformin 1000 mg b.i.d.", "aspirin 81 mg", "simvastatin 20 mg at bedtime",
             "levothyroxine 75 mcg", "omeprazole 20 mg"), self.rng.randint(0, 3))  # fmt: skip
        return ", ".join(drugs).capitalize() + "."

    def allergies(self) -> str:
        return self.one(
            "NO KNOWN DRUG ALLERGIES.", "Penicillin causes hives.", "Sulfa.", "Codeine, nausea.", "NKDA."
        )

    def social(self) -> str:
        return self.one(
            f"{self.she.capitalize()} is married and works as a {self.one('truck driver', 'teacher', 'nurse', 'farmer', 'accountant')}. "
            "Denies tobacco. Drinks socially.",
            "Smoked one pack a day for 30 years, quit in 2010. No illicit drugs.",
            f"Lives alone. {self.one('Retired.', 'Unemployed.', 'On disability.')} Drinks a six-pack on weekends.",
        )

    def family(self) -> str:
        return self.one(
            "Mother with breast cancer, father died of an MI at 61.",
            "Noncontributory.",
            "Brother with similar problems. No family history of colon or prostate cancer.",
        )


Section = tuple[str, str]  # (heading, text); an empty heading runs the text as a paragraph


def _ros(n: _Note, full: bool) -> str:
    if not full:
        return n.one("Otherwise negative.", "As per HPI, otherwise negative.", "Negative except as above.")
    systems = [
        f"CONSTITUTIONAL: {n.one('No fevers or chills.', 'Positive for fatigue, no weight loss.')}",
        f"HEENT: {n.one('No visual changes or sore throat.', 'Negative.')}",
        f"CARDIOVASCULAR: {n.one('No chest pain or palpitations.', 'Negative.')}",
        f"RESPIRATORY: {n.one('No shortness of breath or cough.', 'Mild dyspnea on exertion.')}",
        f"GASTROINTESTINAL: {n.one('No nausea, vomiting, or melena.', 'Negative.')}",
        f"GENITOURINARY: {n.one('No dysuria or frequency.', 'Nocturia twice.')}",
        f"MUSCULOSKELETAL: {n.one('No joint swelling.', 'Chronic low back pain.')}",
        f"NEUROLOGIC: {n.one('No focal weakness or numbness.', 'Negative.')}",
        f"PSYCHIATRIC: {n.one('No depression or anxiety.', 'Negative.')}",
        f"ENDOCRINE: {n.one('No heat or cold intolerance.', 'Negative.')}",
        "SKIN: No rashes.",
    ]
    return " ".join(n.rng.sample(systems, n.rng.randint(6, len(systems))))


def _exam(n: _Note) -> str:
    parts = [
        f"GENERAL: {n.one('Well-developed, well-nourished, in no acute distress.', 'Alert and cooperative.', 'Uncomfortable-appearing.')}",
        n.vitals() + ".",
        f"HEENT: {n.one('PERRLA, EOMI.', 'Normocephalic, oropharynx clear.')}",
        f"NECK: {n.one('Supple without adenopathy.', 'No bruits, no JVD.')}",
        f"LUNGS: {n.one('Clear bilaterally.', 'Scattered expiratory wheezes.')}",
        f"HEART: {n.one('Regular rate and rhythm.', 'S1, S2 normal without gallop.')}",
        f"ABDOMEN: {n.one('Soft, nontender, no masses.', 'Obese, positive bowel sounds.')}",
        "EXTREMITIES: " + n.one("No clubbing, cyanosis or edema.", "Warm and well perfused."),
    ]
    return (
        " ".join(n.rng.sample(parts, n.rng.randint(4, len(parts))))
        + " "
        + n.rng.choice(n.spec.findings).capitalize()
        + "."
    )


def _head(n: _Note, *names: str) -> str:
    name = n.rng.choice(names)
    return name


def _consult(n: _Note) -> list[Section]:
    why = n.one(
        f"{n.problem.capitalize()}.",
        f"Evaluation of {n.problem}, at the request of {n.referrer}.",
        f"{n.referrer} asked us to see the patient for {n.problem}.",
        f"{n.complaint.capitalize()}; consult for {n.spec.name} input.",
    )
    opening = n.one(
        f"Mr./Ms. {n.surname} is a {n.who} who is seen today in {n.spec.name} consultation at the request of "
        f"{n.referrer} for {n.problem}.",
        f"The patient is a {n.who} who presents today as a consultation from {n.referrer} regarding {n.complaint}.",
        f"This {n.who} was referred to us by {n.referrer} because of {n.complaint}, and I saw {n.him} today "
        f"in the {n.spec.name} clinic.",
        f"I had the pleasure of seeing your patient, a {n.who}, in consultation today for {n.problem}.",
        f"We were asked by the hospitalist service to evaluate this {n.who}, admitted two days ago, for {n.problem}.",
    )
    hpi = (
        f"{opening} {n.she.capitalize()} reports {n.complaint} "
        f"{n.one('for the past several months', 'since last spring', 'for about three weeks', 'on and off for years')} "
        f"and {n.one('has tried over-the-counter remedies without relief', 'was started on ' + n.rng.choice(n.spec.drugs) + ' by the primary care physician', 'denies any similar episodes in the past')}. "
        f"{n.rng.choice(n.spec.studies).capitalize()}."
    )
    plan = "; ".join(n.any(n.spec.advice, 1, 3))
    rec = n.one(
        f"I would recommend {plan}. We will be happy to follow along.",
        f"My recommendations are {plan}. I have discussed this with {n.referrer}.",
        f"1. {n.rng.choice(n.spec.advice).capitalize()}. 2. Continue current medications. "
        f"3. Follow up in the {n.spec.name} clinic in {n.rng.randint(2, 8)} weeks.",
        f"Recommend {plan}. If {n.she} fails conservative management, {n.rng.choice(n.spec.operations)} would be an option.",
    )
    thanks = n.one(
        f"Thank you for allowing me to participate in the care of this patient. {n.author}",
        f"Thank you, {n.referrer}, for this kind referral; I will keep you informed of {n.her} progress.",
        "Thank you for this interesting consultation. Please call with any questions.",
        "We will sign off at this time; please reconsult as needed.",
        "",
    )
    reason_heading = _head(
        n, "REASON FOR CONSULTATION", "REASON FOR CONSULT", "CONSULT FOR", "REFERRING DIAGNOSIS"
    )
    sections: list[Section] = []
    if n.chance(0.35):
        sections.append(
            (n.one("REQUESTING PHYSICIAN", "REFERRING PHYSICIAN", "CONSULTING PHYSICIAN"), n.referrer)
        )
    if n.chance(0.75):
        sections.append((reason_heading, why))
    sections += [
        ("HISTORY OF PRESENT ILLNESS", hpi),
        ("PAST MEDICAL HISTORY", n.pmh()),
        ("MEDICATIONS", n.meds()),
        ("ALLERGIES", n.allergies()),
    ]
    if n.chance(0.6):
        sections.append(("SOCIAL HISTORY", n.social()))
    if n.chance(0.5):
        sections.append(("FAMILY HISTORY", n.family()))
    if n.chance(0.5):
        sections.append(("REVIEW OF SYSTEMS", _ros(n, n.chance(0.3))))
    sections.append((n.one("PHYSICAL EXAMINATION", "EXAMINATION", "PHYSICAL EXAM"), _exam(n)))
    sections.append(
        (n.one("IMPRESSION/PLAN", "IMPRESSION", "ASSESSMENT AND RECOMMENDATIONS", "ASSESSMENT"),
         f"{n.problem.capitalize()}. {rec}")
    )  # fmt: skip
    if thanks:
        sections.append(("", thanks))
    if n.chance(0.3):  # written as a letter back to the referring doctor
        sections.insert(0, ("", f"Dear {n.referrer}:"))
    return sections


def _hp(n: _Note) -> list[Section]:
    arrival = n.one(
        f"presented to the emergency room with {n.complaint} and was admitted to the {n.one('medicine', 'surgical', 'telemetry', 'ICU')} service",
        f"came in through the ER last night with {n.complaint}; {n.she} is being admitted for further workup",
        f"is admitted today for elective {n.rng.choice(n.spec.operations)}",
        f"was transferred from an outside hospital with {n.problem} and is admitted under my care",
    )
    hpi = (
        f"The patient is a {n.who} with a history of {n.pmh().rstrip('.').lower()} who {arrival}. "
        f"{n.she.capitalize()} {n.one('states that the symptoms started', 'noticed the problem', 'first became aware of this')} "
        f"{n.one('three days ago', 'about a week ago', 'yesterday morning')} and "
        f"{n.one('it has been getting progressively worse', 'it has not improved with rest', 'it woke ' + n.him + ' from sleep')}. "
        f"In the emergency department, {n.rng.choice(n.spec.studies)}."
    )
    plan = n.one(
        f"Admit to {n.one('telemetry', 'the floor', 'the step-down unit')}. {n.rng.choice(n.spec.advice).capitalize()}. "
        "DVT prophylaxis. Full code.",
        f"1. {n.problem.capitalize()}: {n.rng.choice(n.spec.advice)}, {n.spec.name} consult. "
        "2. Hypertension: continue home medications. 3. FEN: regular diet, replace electrolytes. 4. Code status: full.",
        f"Will proceed with {n.rng.choice(n.spec.operations)} as scheduled. Risks and benefits discussed. "
        "Preoperative labs and EKG reviewed.",
    )
    sections: list[Section] = []
    if n.chance(0.5):
        sections.append(
            (n.one("CHIEF COMPLAINT", "CC", "REASON FOR ADMISSION"), n.complaint.capitalize() + ".")
        )
    sections += [
        (n.one("HISTORY OF PRESENT ILLNESS", "HPI", "HISTORY"), hpi),
        ("PAST MEDICAL HISTORY", n.pmh()),
        (
            n.one("PAST SURGICAL HISTORY", "SURGICAL HISTORY"),
            n.one("Appendectomy, cholecystectomy.", "None.", "Hernia repair in 2005."),
        ),
        (n.one("MEDICATIONS", "HOME MEDICATIONS", "MEDICATIONS ON ADMISSION"), n.meds()),
        ("ALLERGIES", n.allergies()),
        ("SOCIAL HISTORY", n.social()),
        ("FAMILY HISTORY", n.family()),
        ("REVIEW OF SYSTEMS", _ros(n, n.chance(0.8))),
        (n.one("PHYSICAL EXAMINATION", "PHYSICAL EXAM", "EXAM ON ADMISSION"), _exam(n)),
    ]
    if n.chance(0.6):
        sections.append(
            (n.one("LABORATORY DATA", "LABS", "DIAGNOSTIC DATA"),
             f"White count {n.rng.randint(4, 19)}, hemoglobin {n.rng.randint(8, 15)}, sodium {n.rng.randint(128, 144)}, "
             f"creatinine 1.{n.rng.randint(0, 9)}. {n.rng.choice(n.spec.studies).capitalize()}.")
        )  # fmt: skip
    sections.append((n.one("ASSESSMENT AND PLAN", "IMPRESSION/PLAN", "ASSESSMENT/PLAN", "PLAN"), plan))
    return sections


def _progress(n: _Note) -> list[Section]:
    interval = n.one(
        f"The patient returns today for follow-up of {n.problem}. Since the last visit {n.she} has been "
        f"{n.one('doing much better', 'about the same', 'having some difficulty with the medication')}.",
        f"Hospital day {n.rng.randint(2, 9)}. No acute events overnight. {n.she.capitalize()} "
        f"{n.one('slept well', 'had some nausea', 'ambulated in the hall')} and "
        f"{n.one('is tolerating a diet', 'pain is controlled', 'remains afebrile')}.",
        f"{n.who.capitalize()} seen for a recheck {n.rng.randint(2, 12)} weeks after starting {n.rng.choice(n.spec.drugs)}.",
        f"Postoperative day {n.rng.randint(1, 14)} status post {n.rng.choice(n.spec.operations)}. Doing well.",
    )
    soap = n.chance(0.45)
    assess = f"{n.problem.capitalize()}, {n.one('improving', 'stable', 'not at goal', 'resolved')}."
    plan = n.one(
        f"Continue {n.rng.choice(n.spec.drugs)}. {n.rng.choice(n.spec.advice).capitalize()}. Return in {n.rng.randint(2, 6)} months.",
        f"Will increase the dose. Recheck labs in {n.rng.randint(1, 4)} weeks. Call if worse.",
        "Continue current management. Anticipate discharge in one to two days.",
    )
    if soap:
        return [
            (n.one("SUBJECTIVE", "S"), interval),
            (n.one("OBJECTIVE", "O"), n.vitals() + ". " + n.rng.choice(n.spec.findings).capitalize() + "."),
            (n.one("ASSESSMENT", "A"), assess),
            (n.one("PLAN", "P"), plan),
        ]
    sections: list[Section] = [
        ("", interval) if n.chance(0.4) else (n.one("INTERVAL HISTORY", "HISTORY", "HPI"), interval)
    ]
    if n.chance(0.5):
        sections.append(("CURRENT MEDICATIONS", n.meds()))
    if n.chance(0.4):
        sections.append(("REVIEW OF SYSTEMS", _ros(n, False)))
    sections.append(
        (
            n.one("PHYSICAL EXAMINATION", "EXAM", "EXAMINATION"),
            n.vitals() + ". " + n.rng.choice(n.spec.findings).capitalize() + ".",
        )
    )
    sections.append(
        (n.one("ASSESSMENT/PLAN", "IMPRESSION AND PLAN", "ASSESSMENT AND PLAN"), f"{assess} {plan}")
    )
    return sections


def _discharge(n: _Note) -> list[Section]:
    stay = n.rng.randint(2, 12)
    course = (
        f"The patient is a {n.who} who was admitted on {n.date()} with {n.complaint}. "
        f"{n.rng.choice(n.spec.studies).capitalize()}. {n.she.capitalize()} was "
        f"{n.one('started on IV antibiotics and fluids', 'taken to the operating room for ' + n.rng.choice(n.spec.operations), 'managed medically', 'seen by ' + n.spec.name)} "
        f"and {n.one('improved steadily', 'had an uneventful postoperative course', 'was stable for discharge by hospital day ' + str(stay))}. "
        f"By the day of discharge {n.she} was {n.one('tolerating a regular diet and ambulating', 'afebrile with stable vital signs', 'pain-free')}."
    )
    sections: list[Section] = [
        (n.one("ADMISSION DIAGNOSIS", "ADMITTING DIAGNOSIS"), n.complaint.capitalize() + "."),
        (
            n.one("DISCHARGE DIAGNOSIS", "DISCHARGE DIAGNOSES", "FINAL DIAGNOSIS"),
            n.problem.capitalize() + ".",
        ),
    ]
    if n.chance(0.5):
        sections.append(("PROCEDURES", n.rng.choice(n.spec.operations).capitalize() + "."))
    sections += [
        (n.one("HOSPITAL COURSE", "BRIEF HOSPITAL COURSE", "COURSE IN THE HOSPITAL"), course),
        (n.one("DISCHARGE MEDICATIONS", "MEDICATIONS AT DISCHARGE"), n.meds()),
        (n.one("DISCHARGE INSTRUCTIONS", "INSTRUCTIONS", "ACTIVITY"),
         n.one("No heavy lifting for two weeks. Regular diet.", "Activity as tolerated. Call for fever over 101.")),
        (n.one("FOLLOW-UP", "FOLLOWUP", "DISPOSITION"),
         f"{n.one('Home', 'Home with home health', 'Skilled nursing facility')}. Follow up with {n.referrer} in one week."),
        ("CONDITION ON DISCHARGE", n.one("Stable.", "Good.", "Improved.")),
    ]  # fmt: skip
    return sections


def _operative(n: _Note) -> list[Section]:
    op = n.rng.choice(n.spec.operations)
    return [
        (n.one("PREOPERATIVE DIAGNOSIS", "PREOP DIAGNOSIS"), n.problem.capitalize() + "."),
        (n.one("POSTOPERATIVE DIAGNOSIS", "POSTOP DIAGNOSIS"), n.one("Same.", n.problem.capitalize() + ".")),
        (n.one("PROCEDURE PERFORMED", "PROCEDURE", "OPERATION"), op.capitalize() + "."),
        ("SURGEON", n.author),
        ("ANESTHESIA", n.one("General endotracheal.", "Spinal with sedation.", "MAC with local.")),
        ("ESTIMATED BLOOD LOSS", n.one("Minimal.", f"{n.rng.randint(5, 400)} mL.")),
        (n.one("INDICATIONS", "INDICATIONS FOR PROCEDURE"),
         f"This {n.who} with {n.problem} was counseled and consented for {op}."),
        (n.one("DESCRIPTION OF PROCEDURE", "PROCEDURE IN DETAIL", "DETAILS OF PROCEDURE"),
         f"The patient was brought to the operating room and placed in the {n.one('supine', 'lithotomy', 'lateral decubitus')} position. "
         "After adequate anesthesia, the area was prepped and draped in the usual sterile fashion. A timeout was performed. "
         f"{n.one('The instruments were introduced and', 'An incision was made and')} the {op} was carried out without difficulty. "
         "Hemostasis was assured. Sponge and needle counts were correct. The patient tolerated the procedure well "
         "and was taken to the recovery room in stable condition."),
    ]  # fmt: skip


def _radiology(n: _Note) -> list[Section]:
    exam = n.one(
        "CT ABDOMEN AND PELVIS WITH CONTRAST",
        "MRI BRAIN WITHOUT AND WITH CONTRAST",
        "CHEST, TWO VIEWS",
        "ULTRASOUND OF THE KIDNEYS",
        "MRI LEFT SHOULDER WITHOUT CONTRAST",
        "CT CHEST FOR PULMONARY EMBOLISM",
        "PELVIC ULTRASOUND, TRANSABDOMINAL AND TRANSVAGINAL",
        "NUCLEAR STRESS TEST",
    )
    finding = n.rng.choice(n.spec.studies)
    return [
        (n.one("EXAM", "EXAMINATION", "PROCEDURE"), exam + "."),
        (n.one("CLINICAL HISTORY", "HISTORY", "INDICATION"), f"{n.complaint.capitalize()}."),
        ("COMPARISON", n.one("None.", f"Prior study dated {n.date()}.")),
        ("TECHNIQUE", n.one("Axial images were obtained from the lung bases through the pubic symphysis following IV contrast.",
                            "Multiplanar multisequence images were obtained.", "Real-time grayscale and color Doppler images were obtained.")),
        ("FINDINGS", f"{finding.capitalize()}. {n.one('No other acute abnormality.', 'The remaining structures are unremarkable.', 'No lymphadenopathy.')}"),
        ("IMPRESSION", f"1. {n.problem.capitalize()} is suspected. 2. {n.one('Clinical correlation recommended.', 'Follow-up imaging suggested.', 'No acute process otherwise.')}"),
    ]  # fmt: skip


def _referral(n: _Note) -> list[Section]:
    return [
        ("", f"Dear {n.one('Colleague', n.referrer)},"),
        ("", f"I am writing to refer {n.one('my patient', 'Mr./Ms. ' + n.surname)}, a {n.who}, to your "
             f"{n.spec.name} practice for evaluation and management of {n.problem}. "
             f"{n.she.capitalize()} has had {n.complaint} and {n.rng.choice(n.spec.studies)}."),
        ("", f"{n.one('Current medications are', 'Her/his medications include')} {n.meds().lower()} "
             f"Past history is notable for {n.pmh().lower()}"),
        ("", n.one(f"I would appreciate your opinion regarding {n.rng.choice(n.spec.advice)}.",
                   "Please see at your earliest convenience; the patient has been asked to call your office.",
                   f"Could you please assess whether {n.rng.choice(n.spec.operations)} is indicated?")),
        ("", n.one("Records and recent labs are enclosed.", "Insurance authorization has been obtained.", "")),
        ("", f"Sincerely, {n.author}"),
    ]  # fmt: skip


def _consent(n: _Note) -> list[Section]:
    op = n.rng.choice(n.spec.operations)
    return [
        ("", f"I, the undersigned, hereby authorize {n.author} and such assistants as may be selected to perform {op}."),
        ("", f"The nature of the procedure, the expected benefits, and the risks including bleeding, infection, "
             f"{n.one('damage to nearby organs', 'nerve injury', 'blood clots')}, and the possible need for further surgery "
             "have been explained to me, as have the alternatives, including no treatment."),
        ("", n.one("I understand that no guarantee has been made as to the result.",
                   "I acknowledge that I have had the chance to ask questions and all have been answered.")),
        ("", n.one("I consent to the administration of anesthesia and to transfusion of blood products if needed.",
                   "I do / do not consent to blood transfusion.")),
        ("", "Patient or legal representative signature ______________  Date/Time ________"),
        ("", n.one("Witness ______________", "Physician obtaining consent ______________  Interpreter (if used) ________")),
    ]  # fmt: skip


_MAKERS: Final[dict[str, Callable[[_Note], list[Section]]]] = {
    "consult_note": _consult,
    "history_physical": _hp,
    "progress_note": _progress,
    "discharge_summary": _discharge,
    "operative_report": _operative,
    "radiology_report": _radiology,
    "referral": _referral,
    "consent_form": _consent,
}

_TITLES: Final = {
    "consult_note": ("CONSULTATION", "Urology Consult", "NEW PATIENT CONSULTATION"),
    "history_physical": ("ADMISSION HISTORY AND PHYSICAL", "H&P"),
    "progress_note": ("FOLLOW-UP VISIT", "PROGRESS NOTE"),
    "discharge_summary": ("DISCHARGE SUMMARY",),
    "operative_report": ("OPERATIVE NOTE",),
    "radiology_report": ("DIAGNOSTIC IMAGING REPORT",),
    "referral": ("REFERRAL",),
    "consent_form": ("CONSENT FOR SURGERY OR PROCEDURE",),
}


@dataclass(frozen=True, slots=True)
class RealNote:
    doc_type: str
    text: str
    specialty: str
    titled: bool


def real_world_note(doc_type: str, seed: int) -> RealNote:
    """One note of ``doc_type`` in transcription style; the same (type, seed) gives the same note."""
    rng = random.Random(f"realworld:{doc_type}:{seed}")
    n = _Note(rng)
    sections = _MAKERS[doc_type](n)
    if doc_type in ("history_physical", "consult_note", "progress_note") and rng.random() < 0.3:
        head, rest = sections[:1], sections[1:]  # dictation reorders the middle sections
        rng.shuffle(rest[:-1])
        sections = head + rest
    inline = rng.random() < 0.7  # "HEADING: text" on one line, else the heading on a line of its own
    lines: list[str] = []
    titled = rng.random() < 0.2
    if titled:
        lines.append(rng.choice(_TITLES[doc_type]))
    for heading, text in sections:
        if not text:
            continue
        if not heading:
            lines.append(text)
        elif inline:
            lines.append(f"{heading}: {text}")
        else:
            lines += [f"{heading}:", text]
    return RealNote(doc_type, "\n".join(lines), n.spec.name, titled)


def real_world_page_blocks(
    note: RealNote, patient: FakePatient, rng: random.Random
) -> tuple[list[Block], Layout]:
    """``note`` as a transcription service prints it: a one-line patient header, then the
    note's lines as paragraphs, in a typewriter-like or plain office font."""
    header = rng.choice(
        (
            f"PATIENT: {patient.last.upper()}, {patient.first.upper()}   MR#: {patient.mrn}   DOB: {patient.dob:%m/%d/%Y}",
            f"{patient.first} {patient.last}  -  Medical record {patient.mrn}  -  Date of birth {patient.dob:%m/%d/%Y}",
        )
    )
    blocks = [Block("para", (header,)), Block("blank", ("",))]
    blocks += [Block("para", (line,)) for line in note.text.splitlines()]
    layout = Layout(
        font=rng.choice(("LiberationMono", "LiberationSerif", "DejaVuSans")),
        point_size=rng.choice((10.0, 11.0, 12.0)),
        margin_inches=rng.choice((0.75, 1.0)),
        line_spacing=rng.choice((1.3, 1.5)),
    )
    return blocks, layout
