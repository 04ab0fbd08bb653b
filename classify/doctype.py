"""Document typing: a first classifier of weighted rules over titles and vocabulary.

Evidence per type, on OCR text normalized by ``normalize_text`` (lower case, digits
OCR'd inside words turned back into letters):

* a *title* phrase on a short line near the top (one of the first ``TOP_LINES``
  non-empty lines, at most ``TITLE_MAX_WORDS`` words, not a "Label:" field) weighs
  ``TITLE_FIRST`` on the earliest title line of the document and ``TITLE_LATER`` on
  later ones; titles are also found fuzzily there (rapidfuzz, for "SUMMARV"). A type
  counts only its best title. A title phrase elsewhere weighs ``TITLE_ELSEWHERE``;
* each distinct *cue* (a strong word or heading of the type) weighs ``CUE``;
* each distinct *body* term (section headings, units, reference ranges) weighs
  ``BODY``, at most ``BODY_CAP`` in all, so a document without a title line is still
  typed from its body.

``other`` (non-clinical papers: reminders, fax covers, correspondence) gets its
own evidence plus the constant ``OTHER_BASELINE``, so it wins when nothing else
has any. Confidence is a softmax over the scores at temperature ``TEMPERATURE``:
a clear document scores >= 0.8, empty or garbage text leaves "other" ahead with
a confidence well under 0.5.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from chartclerk.classify.models import Classification
from chartclerk.settings import ClassifySettings

log = logging.getLogger(__name__)

DOC_TYPES: tuple[str, ...] = (
    "face_sheet",
    "history_physical",
    "progress_note",
    "consult_note",
    "discharge_summary",
    "operative_report",
    "lab_report",
    "radiology_report",
    "referral",
    "consent_form",
    "prescription",
    "insurance",
    "other",
)

LOINC: dict[str, str] = {
    "discharge_summary": "18842-5",
    "history_physical": "34117-2",
    "progress_note": "11506-3",
    "consult_note": "11488-4",
    "operative_report": "11504-8",
    "lab_report": "11502-2",
    "radiology_report": "18748-4",
    "referral": "57133-1",
    "consent_form": "59284-0",
    "prescription": "57833-6",
    "insurance": "64291-8",
    "face_sheet": "51851-4",
    "other": "34109-9",
}

TOP_LINES = 12
TITLE_MAX_WORDS = 8
TITLE_FIRST = 7.0
TITLE_LATER = 4.0
TITLE_ELSEWHERE = 2.0
CUE = 2.0
BODY = 1.0
BODY_CAP = 6.0
OTHER_BASELINE = 2.5
TEMPERATURE = 1.5
FUZZY_MIN_LENGTH = 12  # shorter title phrases are matched exactly only
FUZZY_MIN_RATIO = 88.0  # rapidfuzz ratio of a top line to a title ...
FUZZY_MIN_PARTIAL = 90.0  # ... or partial ratio when the line is longer than the title
SHORT_TITLE_LETTERS = 3
TITLE_MAX_CHARS = 120  # longer top lines are never titles
MAX_CHARS = 50_000  # only the start of a long document is read (about 15 pages): it types the document


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    titles: tuple[str, ...]  # plain phrases; words may be separated by any space, hyphen or none
    cues: tuple[str, ...] = ()  # regexes
    body: tuple[str, ...] = ()  # regexes


_VOCABULARY: dict[str, _Vocabulary] = {
    "discharge_summary": _Vocabulary(
        titles=("discharge summary", "hospital discharge summary", "discharge note", "discharge report"),
        cues=(
            r"hospital course",
            r"discharge diagnos[ie]s",
            r"discharge medications?",
            r"date of discharge",
            r"discharge date",
            r"condition (?:at|on) discharge",
            r"discharge instructions",
        ),
        body=(
            r"admission date",
            r"date of admission",
            r"disposition",
            r"discharged",
            r"follow[\s-]*up",
            r"admitting diagnosis",
            r"length of stay",
            r"principal diagnosis",
        ),
    ),
    "history_physical": _Vocabulary(
        titles=(
            "history and physical",
            "history & physical",
            "h&p",
            "h & p",
            "admission history",
            "history and physical examination",
            "admission h&p",
        ),
        cues=(
            r"history of present illness",
            r"past surgical history",
            r"review of systems",
            r"family history",
            r"social history",
        ),
        body=(
            r"chief complaint",
            r"past medical history",
            r"\bhpi\b",
            r"\bros\b",
            r"\bpmh\b",
            r"physical exam(?:ination)?",
            r"allergies",
            r"assessment and plan",
            r"admit(?:ting|ted)?\b",
            r"home medications",
        ),
    ),
    "progress_note": _Vocabulary(
        titles=("progress note", "soap note", "soap", "daily note", "daily progress note", "interval note"),
        cues=(
            r"^\s*s\s*[:)]",
            r"^\s*o\s*[:)]",
            r"^\s*a\s*[:)]",
            r"^\s*p\s*[:)]",
            r"^\s*subjective\b",
            r"^\s*objective\b",
            r"interval history",
            r"hospital day\s*#?\s*\d",
            r"post[\s-]*op(?:erative)? day",
        ),
        body=(
            r"^\s*assessment\b",
            r"^\s*plan\b",
            r"overnight",
            r"vital signs",
            r"\bvitals\b",
            r"continue (?:current|present)",
            r"tolerating",
            r"no acute events",
            r"\bpod\s*#?\s*\d",
            r"date of service",
            r"(?:seen|here) for follow[\s-]*up",
        ),
    ),
    "consult_note": _Vocabulary(
        titles=("consultation", "consult note", "consultation note", "consultation report", "consult"),
        cues=(
            r"reason for consult(?:ation)?",
            r"requested by",
            r"thank you for (?:this|the|allowing|asking)"
            r"(?: kind)? (?:consult|referral|us|me)",
            r"thank you for referring",
            r"consultant",
            r"recommendations?\s*:",
        ),
        body=(
            r"we will (?:follow|continue)",
            r"\brecommend",
            r"history of present illness",
            r"assessment",
            r"impression",
            r"referring (?:physician|provider)",
            r"will sign off",
        ),
    ),
    "operative_report": _Vocabulary(
        titles=(
            "operative report",
            "procedure note",
            "op note",
            "operative note",
            "operation report",
            "procedure report",
            "brief op note",
        ),
        cues=(
            r"pre[\s-]*operative diagnosis",
            r"post[\s-]*operative diagnosis",
            r"procedures? performed",
            r"estimated blood loss",
            r"\bebl\b",
            r"anesthesia\s*:",
            r"prepped and draped",
            r"taken to the operating room",
        ),
        body=(
            r"\bsurgeon\b",
            r"assistant\s*:",
            r"specimens?\s*:",
            r"complications\s*:",
            r"drains?\s*:",
            r"indications?\s*:",
            r"incision",
            r"sutures?",
            r"sponge and (?:needle|instrument) counts?",
            r"general endotracheal",
            r"findings\s*:",
        ),
    ),
    "lab_report": _Vocabulary(
        titles=(
            "laboratory report",
            "lab report",
            "lab results",
            "laboratory results",
            "cbc",
            "comprehensive metabolic panel",
            "basic metabolic panel",
            "lipid panel",
            "urinalysis",
            "complete blood count",
            "pathology report",
        ),
        cues=(
            r"reference (?:range|interval)",
            r"\bref\.?\s*range",
            r"\bg\s*/\s*dl\b",
            r"\bmmol\s*/\s*l\b",
            r"\bmg\s*/\s*dl\b",
            r"\bmeq\s*/\s*l\b",
            r"specimen (?:collected|received|type)",
            r"\baccession\b",
        ),
        body=(
            r"\bhemoglobin\b",
            r"\bhematocrit\b",
            r"\bwbc\b",
            r"\bplatelets?\b",
            r"\bsodium\b",
            r"\bpotassium\b",
            r"\bglucose\b",
            r"\bcreatinine\b",
            r"\bbun\b",
            r"\bu\s*/\s*l\b",
            r"\b(?:k|x\s*10\^?3)\s*/\s*u?l\b",
            r"\bcollected\b",
            r"\bresulted\b",
            r"\bflag\b",
            r"\bunits\b",
            r"\d\s*-\s*\d+(?:\.\d+)?\s*(?:mg|g|mmol|meq|u)\b",
        ),
    ),
    "radiology_report": _Vocabulary(
        titles=(
            "radiology report",
            "imaging report",
            "x-ray",
            "xray",
            "ct",
            "mri",
            "ultrasound",
            "mammogram",
            "cat scan",
            "chest radiograph",
            "diagnostic imaging",
        ),
        cues=(
            r"(?:^\s*|\b)impression\s*:|^\s*impression\s*$",
            r"(?:^\s*|\b)findings\s*:|^\s*findings\s*$",
            r"(?:^\s*|\b)technique\s*:|^\s*technique\s*$",
            r"(?:^\s*|\b)comparison\s*:|^\s*comparison\s*$",
            r"\bradiologist\b",
            r"with(?:out)? (?:iv )?contrast",
            r"(?:pa|ap) and lateral",
        ),
        body=(
            r"clinical (?:history|indication)",
            r"\bexam\s*:",
            r"\bviews?\b",
            r"no acute",
            r"\bunremarkable\b",
            r"\bopacit",
            r"\bcm\b",
            r"\bmm\b",
            r"\bdictated\b",
            r"\bradiology\b",
            r"\b(?:mri|x[\s-]*ray|ultrasound|radiographs?|doppler)\b",
            r"\bct (?:head|brain|chest|abdomen|abd|pelvis|spine|neck|scan|angiogra)",
        ),
    ),
    "referral": _Vocabulary(
        titles=("referral", "referral form", "referral letter", "letter of referral", "referral request"),
        cues=(
            r"dear dr\b",
            r"i am referring",
            r"i would like to refer",
            r"reason for referral",
            r"thank you for seeing",
            r"referred to",
        ),
        body=(
            r"referring",
            r"please (?:see|evaluate)",
            r"evaluate and treat",
            r"sincerely",
            r"specialist",
            r"appointment",
            r"\bre\s*:",
        ),
    ),
    "consent_form": _Vocabulary(
        titles=(
            "informed consent",
            "consent form",
            "consent for",
            "consent to",
            "authorization for",
            "consent and authorization",
        ),
        cues=(
            r"\bi consent\b",
            r"\bi hereby\b",
            r"\bauthorize\b",
            r"\bwitness\b",
            r"\bi understand\b",
            r"(?:patient|witness|guardian)(?:'s)? signature",
            r"signature of (?:patient|legal|witness)",
            r"legal(?:ly authorized)? representative",
        ),
        body=(
            r"\bsignature\b",
            r"_{6,}",
            r"voluntar",
            r"\brisks\b",
            r"alternatives",
            r"\bconsent\b",
            r"date\s*/\s*time",
            r"no guarantee",
            r"complications",
        ),
    ),
    "prescription": _Vocabulary(
        titles=("prescription", "rx", "prescription order", "medication order"),
        cues=(
            r"\bsig\s*:",
            r"\bdispense\b",
            r"\bdisp\s*[:#]",
            r"\brefills?\b",
            r"\bdea\s*#?",
            r"substitution permitted",
            r"dispense as written",
            r"\bqty\s*:",
        ),
        body=(
            r"\btabs?(?:lets?)?\b",
            r"\bcaps(?:ules?)?\b",
            r"by mouth",
            r"\bp\.?o\.?\b",
            r"\bbid\b",
            r"\btid\b",
            r"\bprn\b",
            r"\bmg\b",
            r"\bnpi\b",
            r"\bpharmacy\b",
            r"\bdaily\b",
        ),
    ),
    "insurance": _Vocabulary(
        titles=(
            "insurance",
            "insurance card",
            "insurance verification",
            "explanation of benefits",
            "eligibility",
            "prior authorization",
            "insurance information",
            "claim form",
        ),
        cues=(
            r"policy (?:number|no|#)",
            r"group (?:number|no|#)",
            r"\bsubscriber\b",
            r"\bpayer\b",
            r"\bclaim\b",
            r"member id",
            r"\bcopay",
            r"\bdeductible\b",
        ),
        body=(
            r"\bcoverage\b",
            r"\beffective date\b",
            r"\bplan\b",
            r"\beob\b",
            r"\binsured\b",
            r"\bcoinsurance\b",
            r"\bpolicy\b",
            r"\bbenefits?\b",
            r"out[\s-]*of[\s-]*pocket",
        ),
    ),
    "face_sheet": _Vocabulary(
        titles=(
            "face sheet",
            "facesheet",
            "admission face sheet",
            "patient face sheet",
            "registration",
            "patient registration",
            "registration form",
            "demographics",
        ),
        cues=(
            r"emergency contact",
            r"\bguarantor\b",
            r"next of kin",
            r"marital status",
            r"primary insurance",
            r"secondary insurance",
        ),
        body=(
            r"\bemployer\b",
            r"\breligion\b",
            r"\brelationship\b",
            r"\baddress\b",
            r"\bphone\b",
            r"account (?:number|no|#)",
            r"admit(?:ting)? (?:date|physician)",
            r"attending physician",
            r"\bsex\s*:",
            r"\brace\b",
            r"\bethnicity\b",
            r"primary care",
        ),
    ),
    # Non-clinical papers that are "other" by their own evidence, not only for lack of any.
    "other": _Vocabulary(
        titles=(
            "appointment reminder",
            "fax cover sheet",
            "fax cover",
            "patient correspondence",
            "correspondence",
            "cover sheet",
            "transmittal",
        ),
        cues=(
            r"remind(?:er)? (?:you )?of your (?:upcoming )?appointment",
            r"upcoming appointment",
            r"\breschedule\b",
            r"pages? \(?including cover",
            r"\bfax\s*(?:#|number|no)",
        ),
        body=(r"\bfax\b", r"front desk", r"office hours", r"please call our office"),
    ),
}


@dataclass(frozen=True, slots=True)
class _Title:
    phrase: str
    pattern: re.Pattern[str]
    fuzzy_key: str  # letters and single spaces, for rapidfuzz; "" when too short to match fuzzily
    short: bool  # "ct", "rx", "cbc", "h&p": a title only at the start of a top line, never elsewhere


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    parts = [re.escape(w) for w in re.split(r"[\s\-]+", phrase)]
    body = r"[\s\-_]*".join(parts)
    start = r"\b" if phrase[0].isalnum() else ""
    end = r"\b" if phrase[-1].isalnum() else ""
    return re.compile(start + body + end)


def _letters(text: str) -> str:
    return " ".join(re.sub(r"[^a-z]+", " ", text).split())


def _compile_title(phrase: str) -> _Title:
    letters = _letters(phrase)
    return _Title(
        phrase=phrase,
        pattern=_phrase_pattern(phrase),
        fuzzy_key=letters if len(letters) >= FUZZY_MIN_LENGTH else "",
        short=len(letters.replace(" ", "")) <= SHORT_TITLE_LETTERS,
    )


_TITLES = {t: tuple(_compile_title(p) for p in v.titles) for t, v in _VOCABULARY.items()}
_CUES = {t: tuple(re.compile(c, re.MULTILINE) for c in v.cues) for t, v in _VOCABULARY.items()}
_BODY = {t: tuple(re.compile(b, re.MULTILINE) for b in v.body) for t, v in _VOCABULARY.items()}
_OCR_IN_WORD = {"0": "o", "1": "l", "5": "s", "|": "l"}


def normalize_text(text: str) -> str:
    """Lower case with OCR digit confusions inside words undone ("rep0rt" -> "report")."""
    lowered = text.lower()
    lowered = re.sub(r"(?<=[a-z])[015|](?=[a-z])", lambda m: _OCR_IN_WORD[m.group()], lowered)
    return re.sub(r"(?<![a-z0-9])0(?=[a-z]{2})", "o", lowered)


def classify_document(text: str, settings: ClassifySettings) -> Classification:
    """The document type of ``text`` (all pages joined), its LOINC code and a confidence in [0, 1]."""
    scores = type_scores(text)
    probabilities = _softmax(scores)
    ranked = tuple(sorted(probabilities.items(), key=lambda kv: (-kv[1], DOC_TYPES.index(kv[0]))))
    doc_type, confidence = ranked[0]
    log.debug(
        "document type %s, confidence %.2f%s",
        doc_type,
        confidence,
        " (below minimum)" if confidence < settings.min_confidence else "",
    )
    return Classification(
        doc_type=doc_type,
        loinc=LOINC[doc_type],
        confidence=confidence,
        scores=tuple((t, round(p, 4)) for t, p in ranked),
    )


def type_scores(text: str) -> dict[str, float]:
    """Raw evidence score of every type (``other`` gets the baseline)."""
    normalized = normalize_text(text[:MAX_CHARS])
    top = _top_lines(normalized)
    title_lines = {t: _title_line(_TITLES[t], top) for t in _VOCABULARY}
    first_title = min((i for i in title_lines.values() if i is not None), default=None)
    scores: dict[str, float] = {}
    for doc_type in _VOCABULARY:
        line = title_lines[doc_type]
        if line is not None:
            title = TITLE_FIRST if line == first_title else TITLE_LATER
        elif any(not t.short and t.pattern.search(normalized) for t in _TITLES[doc_type]):
            title = TITLE_ELSEWHERE
        else:
            title = 0.0
        cues = CUE * sum(1 for p in _CUES[doc_type] if p.search(normalized))
        body = min(BODY_CAP, BODY * sum(1 for p in _BODY[doc_type] if p.search(normalized)))
        scores[doc_type] = title + cues + body
    scores["other"] += OTHER_BASELINE
    return scores


def _top_lines(normalized: str) -> list[str]:
    lines = (" ".join(line.split()) for line in normalized.splitlines())
    return [line for line in lines if line][:TOP_LINES]


def _title_line(titles: tuple[_Title, ...], top: list[str]) -> int | None:
    """Index of the first top line that is a title of this type, or None."""
    for index, line in enumerate(top):
        if len(line) > TITLE_MAX_CHARS or len(line.split()) > TITLE_MAX_WORDS:
            continue
        if any(_is_title_on(t, line) for t in titles):
            return index
    return None


def _is_title_on(title: _Title, line: str) -> bool:
    match = title.pattern.search(line)
    if match is not None:
        if re.match(r"\s*[:#]", line[match.end() :]):  # "Insurance: ..." is a field, not a title
            return False
        return not title.short or not re.search(r"[a-z0-9]", line[: match.start()])
    if not title.fuzzy_key or ":" in line:
        return False
    letters = _letters(line)
    if fuzz.ratio(title.fuzzy_key, letters, score_cutoff=FUZZY_MIN_RATIO) > 0:
        return True
    return len(letters) > len(title.fuzzy_key) and (
        fuzz.partial_ratio(title.fuzzy_key, letters, score_cutoff=FUZZY_MIN_PARTIAL) > 0
    )


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    peak = max(scores.values())
    weights = {t: math.exp((s - peak) / TEMPERATURE) for t, s in scores.items()}
    total = sum(weights.values())
    return {t: weights[t] / total for t in DOC_TYPES}
