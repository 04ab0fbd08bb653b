"""Patient identifiers (MRN, member ID, account number, name, date of birth, sex) found under
their labels in OCR text, each attributed to the person its label and place say it is about.

Only labeled values count: a date is a DOB only after a DOB label (DOB, D.O.B., Date of Birth,
Birth Date, Birthdate, Born, B/D, Birth dt), a number is an MRN only after an MRN label (an
account-number label counts only on documents with no other MRN label; it is also kept as an
account number). A name counts under a patient label (Patient, Pt, Patient Name, Name of
Patient, Name, Member, Client, Resident, Claimant, Employee, Dependent, Child's Name, Re:,
Regarding), in a letter ("I saw your patient Jane Doe"), or as the "LAST, FIRST" line of a label
sticker beside an MRN or DOB label.

Whose value it is: the label itself ("Guarantor:", "Subscriber DOB:"), else the nearest party
word before it on its line (Patient, Guarantor, Spouse, Emergency Contact, Next of Kin,
Parent/Guardian, Responsible Party, physicians, nurses, witnesses...), else the nearest one on
the CONTEXT_LINES lines above (physicians and other staff only on the same line, and never for a
DOB). Values about someone else are set aside (and named in ``Identifiers.read`` by label kind).
Subscriber and Insured are the patient's only when nothing on the page names the patient under
a patient label (a subscriber's own insurance card, not a dependent's).

Values keep their order of first appearance and are deduplicated (MRNs by ``normalize_mrn``).
OCR confusions are undone inside digit runs (O/o -> 0, I/l/| -> 1, S -> 5, B -> 8) and inside
name words (0 -> O, 1 -> I, 5 -> S), and tolerated in labels and month names ("Paticnt",
"Dote of Birth", "Morcb 3").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from chartclerk.classify.models import Identifiers, PersonName
from chartclerk.classify.roster import normalize_mrn, normalize_name

log = logging.getLogger(__name__)

_D = r"[0-9OoIl|SB]"  # a digit as OCR may print it
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8"})
_PATIENT = (
    r"p[ao]t[il1|][ec](?:n|ri)t"  # "Patient", also as OCR misreads it ("Paticnt", "Potient", "Patierit")
)
_NAME = r"n[ao](?:m|rn)[ec]"  # "Name", "Narne", "Nome"
_BIRTH = r"[b8][il1|]rt[hb]"  # "Birth", "Birtb"
_BIRTH_DATE = rf"d[ao]t[ec][ \t]*[o0]f[ \t]*{_BIRTH}|{_BIRTH}[ \t]*d[ao]t[ec]"  # also "Dote of Birth"
_NAME_FIX = str.maketrans({"0": "O", "1": "I", "5": "S"})
# Letters as OCR misreads them in a label word ("Mernber", "Cliemt", "Subscrlber").
_OCR_LETTERS = {
    "e": "[ec]", "c": "[ce]", "a": "[ao]", "o": "[o0a]", "i": "[il1|]", "l": "[l1i|]", "m": "(?:m|rn)",
    "n": "(?:n|ri)", "h": "[hb]", "b": "[b8h]", "s": "[s5]", " ": r"[ \t]*",
}  # fmt: skip


def _ocr(words: str) -> str:
    """A pattern for ``words`` (lower case) tolerating OCR's usual letter confusions."""
    return "".join(_OCR_LETTERS.get(c, re.escape(c)) for c in words)


Party = Literal["patient", "weak", "other", "staff", "none"]

_MRN_RE = re.compile(
    r"(?:(?<![A-Za-z])"
    r"(?:m\.?\s?r\.?\s?n\.?"
    r"|m\.?[ \t]?r\.?(?=[ \t]*(?:\#|n[o0]\b))"
    r"|m[ec]d[il1|][ec]al[ \t]*r[ec][ec][o0]rd(?:[ \t]*(?:n[o0]\b\.?|number|num\b\.?|\#))?"
    r"|m[ec]d\.?[ \t]*r[ec][ec](?:[o0]rd)?\b\.?(?:[ \t]*(?:n[o0]\b\.?|number|\#))?"
    r"|c[hb][ao]rt[ \t]*(?:n[o0]\b\.?|number|\#)"
    # an account number: an MRN only on documents that print no MRN under another label
    r"|(?P<account>acc(?:oun)?t\.?(?=[ \t]*(?:\#|n[o0]\b|num|:))(?:[ \t]*(?:number|num\b\.?))?)"
    rf"|(?:{_PATIENT}|pt\.?)[ \t]*id(?:entifier)?)"
    # in upper case, also glued to the word before ("SEX: FMR#:", "JOHNMRN:")
    r"|(?-i:MRN|MR(?=[ \t]*\#)|MED[Il1|]CAL[ \t]*REC[O0]RD))"
    r"(?![A-Za-z])[ \t]*(?:\#|n[o0]\b\.?)?[ \t]*[:;.=\-]?[ \t]*"
    r"(?:\r?\n[ \t]*)?"  # a label wrapped at the end of a line
    rf"(?P<value>{_D}+(?:-{_D}+)*)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_MIN_MRN_DIGITS = 3
_MAX_MRN_DIGITS = 20

# Member IDs (letters and digits) and visit/account numbers: identifiers the roster may carry.
_ID_VALUE = r"(?P<value>[A-Za-z0-9|]{0,4}[0-9OoIlSB|][A-Za-z0-9|\-]{2,24})(?![A-Za-z0-9])"
_MEMBER_ID_RE = re.compile(
    r"(?<![A-Za-z])(?P<label>(?:member|subscriber|insured|policy[ \t]*holder|card[ \t]*holder|policy"
    r"|ins(?:urance)?\.?)(?:'?s)?[ \t]*(?:id(?:entification)?|\#|n[o0]\b\.?|number)"
    r"(?:[ \t]*(?:\#|n[o0]\b\.?))?)"
    rf"[ \t]*[:;.=\-]?[ \t]*{_ID_VALUE}",
    re.IGNORECASE,
)
_ACCOUNT_RE = re.compile(
    r"(?<![A-Za-z])(?P<label>(?:(?:patient|pt\.?|hospital|guarantor)[ \t]*)?"
    r"(?:acc(?:oun)?t\.?|fin|encounter|enc\.?|visit|csn|har)[ \t]*(?:\#|n[o0]\b\.?|number|num\b\.?|id)"
    r"|acc(?:oun)?t\.?(?=[ \t]*:)|fin(?=[ \t]*:))"
    rf"[ \t]*[:;.=\-]?[ \t]*{_ID_VALUE}",
    re.IGNORECASE,
)

_MEMBER, _CLIENT, _RESIDENT = _ocr("member"), _ocr("client"), _ocr("resident")
_CLAIMANT, _EMPLOYEE, _DEPENDENT = _ocr("claimant"), _ocr("employee"), _ocr("dependent")
_SUBSCRIBER, _INSURED, _CHILD = _ocr("subscriber"), _ocr("insured"), _ocr("child")
_PATIENT_WORDS = (
    rf"{_PATIENT}|pt\.?|{_MEMBER}|{_CLIENT}|{_RESIDENT}|{_CLAIMANT}|{_EMPLOYEE}|{_DEPENDENT}|{_CHILD}(?:'?s)?"
)
_S = r"(?:'?s)?"  # a possessive: "Insured's Name", "Child's Name"
# (kind, whose name it is, pattern); longer labels first: alternation takes the first that fits.
_NAME_LABELS: tuple[tuple[str, Party, str], ...] = (
    ("name of patient", "patient", rf"{_NAME}[ \t]*[o0]f[ \t]*(?:the[ \t]*)?{_PATIENT}"),
    ("patient name", "patient", rf"{_PATIENT}{_S}[ \t]*(?:full[ \t]*|legal[ \t]*)?{_NAME}"),
    ("pt name", "patient", rf"pt{_S}\.?[ \t]*{_NAME}"),
    ("member name", "patient", rf"{_MEMBER}{_S}[ \t]*{_NAME}"),
    ("client name", "patient", rf"{_CLIENT}{_S}[ \t]*{_NAME}"),
    ("resident name", "patient", rf"{_RESIDENT}{_S}[ \t]*{_NAME}"),
    ("claimant name", "patient", rf"{_CLAIMANT}{_S}[ \t]*{_NAME}"),
    ("employee name", "patient", rf"{_EMPLOYEE}{_S}[ \t]*{_NAME}"),
    ("child's name", "patient", rf"{_CHILD}{_S}[ \t]*{_NAME}"),
    ("dependent name", "patient", rf"{_DEPENDENT}{_S}[ \t]*{_NAME}"),
    ("subscriber name", "weak", rf"{_SUBSCRIBER}{_S}[ \t]*{_NAME}"),
    ("insured name", "weak", rf"{_INSURED}{_S}[ \t]*{_NAME}"),
    ("policyholder name", "weak", rf"(?:policy|card)[ \t]*holder{_S}[ \t]*{_NAME}"),
    ("patient", "patient", _PATIENT),
    ("pt", "patient", r"pt\.?"),
    ("member", "patient", _MEMBER),
    ("client", "patient", _CLIENT),
    ("resident", "patient", _RESIDENT),
    ("claimant", "patient", _CLAIMANT),
    ("employee", "patient", _EMPLOYEE),
    ("dependent", "patient", _DEPENDENT),
    ("subscriber", "weak", _SUBSCRIBER),
    ("insured", "weak", _INSURED),
    ("policyholder", "weak", r"(?:policy|card)[ \t]*holder"),
    ("regarding", "patient", _ocr("regarding")),
    ("re", "patient", r"re"),
    ("name", "none", _NAME),  # whose: the block it is in
)
_NAME_LABEL_KINDS = tuple(
    (kind, party, re.compile(pattern, re.IGNORECASE)) for kind, party, pattern in _NAME_LABELS
)
_NAME_RE = re.compile(
    r"(?<![A-Za-z])(?P<label>" + "|".join(f"(?:{p})" for _, _, p in _NAME_LABELS) + r")"
    r"[ \t]*[:;][ \t]*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
# Words saying whom a block or a field is about, and the kind each is reported as.
_PARTY_WORDS: tuple[tuple[str, Party, str], ...] = (
    ("emergency contact", "other", rf"{_ocr('emergency')}(?:[ \t]*{_ocr('contact')})?|in[ \t]+case[ \t]+of"),
    ("next of kin", "other", r"next[ \t]+of[ \t]+kin|nok"),
    ("guarantor", "other", rf"{_ocr('guarant')}[eo0]r"),
    ("responsible party", "other", rf"{_ocr('responsible')}[ \t]*(?:party|person)"),
    ("spouse", "other", rf"{_ocr('spouse')}|husband|wife"),
    ("parent/guardian", "other",
     rf"{_ocr('parent')}(?:s|[ \t]*/[ \t]*{_ocr('guardian')})?|{_ocr('guardian')}|mother|father"),
    ("contact", "other", _ocr("contact")),
    ("employer", "other", r"employer"),
    ("witness", "other", rf"{_ocr('witness')}(?:ed)?"),
    ("interpreter", "other", _ocr("interpreter")),
    ("subscriber", "weak", _SUBSCRIBER),
    ("insured", "weak", _INSURED),
    ("insurance", "weak", r"insurance|coverage|carrier"),  # a section about a policy: its holder
    ("policyholder", "weak", r"(?:policy|card)[ \t]*holder"),
    ("physician", "staff", r"(?:referring|attending|ordering|signing|admitting|primary|treating|consulting)"
     r"(?:[ \t]*(?:physician|provider|doctor|md|dr))?|physician|provider|doctor|surgeon|pcp|prescriber"
     r"|radiologist|pathologist|signed[ \t]+by|dr\.?(?=[ \t]*(?-i:[A-Z]))"),
    ("nurse", "staff", r"nurse|r\.?n\.?"),
    ("pharmacist", "staff", r"pharmacist|r\.?ph\.?"),
    ("patient", "patient", rf"{_PATIENT}|pt\.?(?=[ \t]*(?:{_NAME}|:))|{_MEMBER}|{_CLIENT}|{_RESIDENT}"
     rf"|{_CLAIMANT}|{_EMPLOYEE}|{_DEPENDENT}|{_CHILD}(?:'?s)?(?=[ \t]*(?:{_NAME}|:))"),
)  # fmt: skip


def _without_lookaheads(pattern: str) -> str:
    """``pattern`` without its ``(?=...)`` groups: what a word it found is made of."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?=", i):
            depth, i = 1, i + 3
            while depth:
                depth += {"(": 1, ")": -1}.get(pattern[i], 0) if pattern[i - 1] != "\\" else 0
                i += 1
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


_PARTY_KINDS = tuple(
    (kind, party, re.compile(_without_lookaheads(p), re.IGNORECASE)) for kind, party, p in _PARTY_WORDS
)
_PARTY_RE = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(f"(?:{p})" for _, _, p in _PARTY_WORDS) + r")(?![A-Za-z])",
    re.IGNORECASE,
)
# A name or DOB under another party's own label ("Guarantor: ...", "Spouse Name: ..."), noted in
# ``read`` only: it never drives filing.
_OTHER_NAME_RE = re.compile(
    r"(?<![A-Za-z])(?P<label>"
    + "|".join(f"(?:{p})" for _, party, p in _PARTY_WORDS if party in ("other", "staff"))
    + rf")(?:[ \t]*{_NAME})?[ \t]*[:;][ \t]*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
_LETTER_RE = re.compile(
    rf"(?<![A-Za-z])(?:(?:your|our|my|mutual|the|this)[ \t]+(?:mutual[ \t]+)?{_PATIENT},?[ \t]*"
    r"|(?-i:[Il1|]|We)[ \t]+(?:saw|evaluated|examined|met)[ \t]+"
    r"|referring[ \t]+|seeing[ \t]+|evaluating[ \t]+)"
    r"(?:(?:Mr|Mrs|Ms|Miss)\.?[ \t]+)?"  # a name's words, OCR's 0/1/5 for O/I/S too:
    r"(?P<value>(?-i:[A-Z05][A-Za-z015'\-]+)"
    r"(?:[ \t]+(?-i:St\.|[A-Z05][A-Za-z015'\-]+|[A-Z]\.?|van|von|der|den|de|la|del|da|di|du|le)){1,4})",
    re.IGNORECASE,
)
# A form asking for the parts in separate fields: "Last Name: SMITH   First Name: JOHN   MI: A".
_LAST_NAME_RE = re.compile(
    rf"(?<![A-Za-z])(?:{_PATIENT}{_S}[ \t]*)?(?:last|family|sur)[ \t]*{_NAME}"
    r"[ \t]*[:;][ \t]*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
_FIRST_NAME_RE = re.compile(
    rf"(?<![A-Za-z])(?:first|given)[ \t]*{_NAME}[ \t]*[:;][ \t]*(?P<value>[^\n]*)", re.IGNORECASE
)
_STICKER_RE = re.compile(
    r"^[ \t]*(?P<value>(?-i:[A-Z][A-Za-z'\-]+(?:[ \t][A-Za-z'\-]+){0,2},[ \t]?[A-Z][A-Za-z'\-]+"
    r"(?:[ \t]+[A-Z][A-Za-z'\-]*\.?)?(?:[ \t]+(?:JR|SR|II|III|IV|Jr|Sr)\.?)?))(?=[ \t]*$|[ \t]{2}|\t)",
    re.MULTILINE,
)
_NAME_STOP = re.compile(
    r"(?<![A-Za-z])(?:d\.?[o0]\.?[b8]|date|birth|born|mrn|m\.r\.n|sex|gender|age|acct|account|med|medical|chart"
    r"|id|room|rm|ssn|phone|tel|address|dos|admit|admission|visit|encounter|provider|physician|member"
    r"|group|grp|policy|plan|relationship|rel|subscriber|insured|employer|payer|copay|fin|b/d)"
    r"(?![A-Za-z])|(?-i:MRN|MR\#|D[O0][B8]|MED[Il1|]CAL)|\s{2,}|[\t|(\[]|\d{2}",
    re.IGNORECASE,
)
_NICKNAME_IN_NAME = re.compile(
    r"[ \t]*(?:\([A-Za-z]+\)|\"[A-Za-z]+\"|[\u201c'][A-Za-z]+[\u201d'](?![A-Za-z]))"
)
_COMPOUND_LABEL = re.compile(r"[A-Za-z]\.? ?$")  # "Physician Name:", "Guarantor Name:" are not the patient
_NOT_AFTER = re.compile(
    r"(?<![A-Za-z])(?:to|of)[ \t]+(?:the[ \t]+)?$", re.IGNORECASE
)  # "Relationship to Patient"
CONTEXT_LINES = 3
BLOCK_LINES = 8
_LINE_CONTEXT = 200  # characters of a line looked at around a label (bounds the work on very long lines)
_HONORIFICS = frozenset(("MR", "MRS", "MS", "MISS", "MX"))
_STAFF_TITLES = frozenset(("DR", "DOCTOR", "PROF"))
_SUFFIXES = frozenset(("JR", "SR", "II", "III", "IV"))
_CREDENTIALS = frozenset(
    ("MD", "DO", "PHD", "RN", "NP", "PA", "PAC", "DDS", "DPM", "PHARMD", "RPH", "MBBS", "FACP", "LPN", "CNA")
)
_PARTICLES = frozenset(
    ("VAN", "VON", "DER", "DEN", "DE", "LA", "DEL", "DA", "DI", "DU", "LE", "ST", "TER", "DOS")
)
_NOT_NAMES = frozenset(
    (
        "DOB", "MRN", "AND", "THE", "OF", "FOR", "TO", "WITH", "IN", "ON", "AT", "BY", "FROM", "YOUR",
        "OUR", "PATIENT", "RESULTS", "RESULT", "REPORT", "REFERRAL", "CONSULT", "CONSULTATION",
        "EVALUATION", "FOLLOW", "UP", "REQUEST", "LAB", "LABS", "APPOINTMENT", "RECORDS", "RECORD", "NOTE",
        "NOTES", "UNKNOWN", "NONE", "NA", "SAME", "SELF", "SEE", "ABOVE", "BELOW", "INSURANCE", "CLAIM",
        "POLICY", "AUTHORIZATION", "PRIOR", "TREATMENT", "SURGERY", "IMAGING", "STUDY", "EXAM", "VISIT",
        "SUMMARY", "TODAY", "WAS", "IS", "HAS", "WHO", "HE", "SHE", "THEY", "IN", "CLINIC", "OFFICE",
        "HOSPITAL", "MEDICAL", "CENTER", "HEALTH", "PLAN", "GROUP", "MEMBER", "SERVICES", "DEPARTMENT",
        "PROVIDER", "PHYSICIAN", "DOCTOR", "NURSE", "PRACTITIONER", "SURGEON", "CLINICIAN", "PCP",
        "ATTENDING", "REFERRING",
    )
)  # fmt: skip
_MAX_NAME_WORDS = 6
_GLUED = re.compile(r"(?P<first>[A-Z][a-z]+)(?P<last>[A-Z][A-Za-z'\-]+)")
_NAME_PREFIXES = frozenset({"mc", "mac", "de", "di", "da", "del", "la", "le", "van", "von", "st"})

_DOB_LABEL_RE = re.compile(
    rf"(?:(?<![A-Za-z])(?P<label>d\.?[ \t]?[o0]\.?[ \t]?[b8]\.?|d[ \t]*/[ \t]*[o0][ \t]*/[ \t]*[b8]"
    rf"|{_BIRTH_DATE}|{_BIRTH}[ \t]*dt\.?|{_BIRTH}[ \t]*day|b[ \t]*/[ \t]*d|b[o0a]r(?:n|ri)(?:[ \t]+on)?)"
    r"|(?-i:D[O0][B8]))"
    r"(?![A-Za-z])(?:[ \t]*/[ \t]*age)?[ \t]*[:;#.=\-]?[ \t]*",
    re.IGNORECASE,
)
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}
_END = r"(?![0-9A-Za-z])"
_ISO_RE = re.compile(rf"(?P<y>{_D}{{4}})(?P<sep>[-/.])(?P<m>{_D}{{1,2}})(?P=sep)(?P<d>{_D}{{1,2}}){_END}")
_US_RE = re.compile(
    rf"(?P<m>{_D}{{1,2}}) ?(?P<sep>[/-]) ?(?P<d>{_D}{{1,2}}) ?(?P=sep) ?(?P<y>{_D}{{4}}|{_D}{{2}}){_END}"
)
_DOTTED_RE = re.compile(rf"(?P<d>{_D}{{1,2}})\.(?P<m>{_D}{{1,2}})\.(?P<y>{_D}{{4}}|{_D}{{2}}){_END}")
_MONTH_WORD = r"[A-Za-z0][A-Za-z]{2,8}"  # "0ctober" too
_MONTH_FIRST_RE = re.compile(
    rf"(?P<mon>{_MONTH_WORD})\.?(?:[ \t]+|-)(?P<d>{_D}{{1,2}})(?:st|nd|rd|th)?(?:,?[ \t]+|-|,)"
    rf"(?P<y>{_D}{{4}}|'?{_D}{{2}}){_END}"
)
_DAY_FIRST_RE = re.compile(
    rf"(?P<d>{_D}{{1,2}})[ \t\-]?(?P<mon>[A-Za-z]{{3,9}})\.?[ \t\-,]?[ \t]?(?P<y>{_D}{{4}}|{_D}{{2}}){_END}"
)
_EARLIEST_YEAR = 1880


def _ocr_canonical(word: str) -> str:
    """A word with the letters OCR confuses made one ("Morcb" and "March" -> "maneh")."""
    return word.lower().replace("ri", "n").replace("rn", "m").translate(_CONFUSED_LETTERS)


_CONFUSED_LETTERS = str.maketrans({"o": "a", "0": "a", "c": "e", "b": "h", "1": "l", "i": "l"})
_OCR_MONTHS = {_ocr_canonical(name): number for name, number in _MONTHS.items()}

_SEX_RE = re.compile(
    r"(?<![A-Za-z])(?:sex|gender)(?![A-Za-z])[ \t]*[:;.=\-]?[ \t]*(?P<value>female|male|f|m)"
    r"(?:(?![A-Za-z])|(?=(?-i:MR|D[O0][B8])))"  # "SEX: FMR#:" (OCR glued the next label on)
    r"(?![ \t]*[/|][ \t]*[FfMm])",  # "Sex: M / F", a form's choice left blank
    re.IGNORECASE,
)
_LINE_WRAP = re.compile(r"^[ \t]*\r?\n[ \t]*")


@dataclass(frozen=True, slots=True)
class _Found:
    """One value read, whose it is (by its label and place) and the kind of label it was under."""

    value: object
    party: Party
    kind: str
    fixed: bool = False  # for DOBs: day and month cannot have been swapped


def extract_identifiers(text: str, *, today: dt.date | None = None) -> Identifiers:
    """MRNs, member IDs, account numbers, patient names, DOBs and sexes printed under their labels
    in ``text`` (all pages joined), the patient's only. ``today`` (default: the current date)
    bounds DOBs and pivots two-digit years."""
    today = today or dt.date.today()
    names = list(_find_names(text))
    dobs = list(_find_dobs(text, today))
    members = list(_find_ids(_MEMBER_ID_RE, text, lambda label, at: _member_party(text, label, at)))
    # Subscriber/Insured are the patient only when no patient label names anyone.
    named = any(f.party in ("patient", "none") for f in names)
    weak_ok = not named and any(f.party == "weak" for f in names)
    allowed: tuple[Party, ...] = ("patient", "none", "weak") if weak_ok else ("patient", "none")
    kept_names = [f for f in names if f.party in allowed]
    kept_dobs = [f for f in dobs if f.party in allowed]
    kept_members = [f for f in members if f.party in allowed]
    accounts = list(_find_ids(_ACCOUNT_RE, text, lambda _label, _at: "patient"))
    mrns = list(_find_mrns(text))
    read = [
        *(f"mrn:{kind}" for _, kind in mrns),
        *(f"member id:{f.kind}" for f in kept_members),
        *(f"account:{f.kind}" for f in accounts),
        *(f"name:{f.kind}" for f in kept_names),
        *(f"dob:{f.kind}" for f in kept_dobs),
        *(f"other name:{f.kind}" for f in names if f.party not in allowed),
        *(f"other name:{kind}" for kind in _other_names(text)),
        *(f"other dob:{f.kind}" for f in dobs if f.party not in allowed),
    ]
    ids = Identifiers(
        mrns=_dedupe_mrns(m for m, _ in mrns),
        names=tuple(dict.fromkeys(f.value for f in kept_names if isinstance(f.value, PersonName))),
        dobs=tuple(dict.fromkeys(f.value for f in kept_dobs if isinstance(f.value, dt.date))),
        sexes=tuple(dict.fromkeys(_find_sexes(text))),
        fixed_dobs=tuple(
            dict.fromkeys(f.value for f in kept_dobs if f.fixed and isinstance(f.value, dt.date))
        ),
        member_ids=_dedupe_mrns(str(f.value) for f in kept_members),
        accounts=_dedupe_mrns(str(f.value) for f in accounts),
        read=tuple(dict.fromkeys(read)),
    )
    log.debug(
        "identifiers: %d mrns, %d member ids, %d accounts, %d names, %d dobs, %d sexes; read %s",
        len(ids.mrns), len(ids.member_ids), len(ids.accounts), len(ids.names), len(ids.dobs),
        len(ids.sexes), ", ".join(ids.read),
    )  # fmt: skip
    return ids


# --- MRNs and other numbers -------------------------------------------------------------------------


def _find_mrns(text: str) -> Iterator[tuple[str, str]]:
    """(value, label kind) under MRN labels; those under an account-number label only when there
    are none."""
    account: list[tuple[str, str]] = []
    found = False
    for match in _MRN_RE.finditer(text):
        value = _clean_mrn(match.group("value"))
        if value is None:
            continue
        if match.group("account") is not None:
            account.append((value, "account #"))
        else:
            found = True
            yield value, _mrn_kind(match.group(0)[: match.start("value") - match.start()])
    if not found:
        yield from account


def _mrn_kind(label: str) -> str:
    low = label.lower()
    if "ch" in low and "rt" in low:
        return "chart #"
    if re.search(r"id(?![a-z])", low):
        return "patient id"
    if "rec" in low:
        return "medical record number"
    return "mrn"


def _clean_mrn(raw: str) -> str | None:
    """The MRN as printed with OCR digit confusions undone, or None if it is not digit-like."""
    real_digits = sum(c.isdigit() for c in raw)
    fixed = raw.translate(_DIGIT_FIX)
    total = sum(c.isdigit() for c in fixed)
    if real_digits < _MIN_MRN_DIGITS or real_digits * 2 < total or total > _MAX_MRN_DIGITS:
        return None
    return fixed


def _dedupe_mrns(mrns: Iterator[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for mrn in mrns:
        seen.setdefault(normalize_mrn(mrn), mrn)
    return tuple(seen.values())


def _find_ids(pattern: re.Pattern[str], text: str, party_of: Callable[[str, int], Party]) -> Iterator[_Found]:
    """Member IDs or account numbers: letters and digits, with at least three digits."""
    for match in pattern.finditer(text):
        raw = match["value"]
        if sum(c.isdigit() for c in raw) < _MIN_MRN_DIGITS:
            continue
        label = " ".join(match["label"].lower().split())
        yield _Found(raw.upper().replace("|", "1"), party_of(label, match.start()), _id_kind(label))


def _member_party(text: str, label: str, position: int) -> Party:
    """A subscriber's or insured's ID is theirs; a plain Member ID is whose its line or block says."""
    if re.match(r"subscriber|insured|policy|card", label):
        return "weak"
    party, _ = _party_at(text, position, staff=False)
    return party if party in ("weak", "other") else "patient"


def _id_kind(label: str) -> str:
    for word, kind in (
        ("member", "member id"), ("subscriber", "subscriber id"), ("insured", "insured id"),
        ("policy", "policy #"), ("ins", "insurance id"), ("fin", "fin"), ("enc", "encounter #"),
        ("visit", "visit #"), ("csn", "encounter #"), ("har", "account #"), ("acc", "account #"),
    ):  # fmt: skip
        if word in label:
            return kind
    return "id"


# --- whose a value is -------------------------------------------------------------------------------


def _party_at(text: str, position: int, *, staff: bool) -> tuple[Party, str]:
    """Whom a value at ``position`` is about: the nearest party word before it on its line, else on
    the lines above (CONTEXT_LINES of them, and up to BLOCK_LINES while no blank line ends the
    block); physicians and other staff count only when ``staff`` (a name, never a DOB).
    ("none", "") when nothing says."""
    prefix = _line_prefix(text, position)
    found = _last_party(prefix, staff=staff)
    if found is not None:
        return found
    if len(prefix) >= _LINE_CONTEXT:
        return "none", ""
    for i, line in enumerate(_lines_above(text, position - len(prefix), BLOCK_LINES)):
        if i >= CONTEXT_LINES and not line.strip():
            break
        found = _last_party(line, staff=staff)
        if found is not None:
            return found
    return "none", ""


def _last_party(line: str, *, staff: bool) -> tuple[Party, str] | None:
    best: tuple[Party, str] | None = None
    for match in _PARTY_RE.finditer(line):
        kind, party = _party_kind(match.group(0))
        if party == "staff" and not staff:
            continue
        if party == "patient" and _NOT_AFTER.search(line[: match.start()]):
            continue  # "Relationship to Patient"
        best = (party, kind)
    return best


def _party_kind(word: str) -> tuple[str, Party]:
    for kind, party, pattern in _PARTY_KINDS:
        if pattern.fullmatch(word):
            return kind, party
    return "other", "other"


def _line_prefix(text: str, position: int) -> str:
    """The text from the start of the line to ``position`` (at most ``_LINE_CONTEXT`` characters)."""
    low = max(0, position - _LINE_CONTEXT)
    newline = text.rfind("\n", low, position)
    return text[newline + 1 if newline >= 0 else low : position]


def _lines_above(text: str, line_start: int, count: int) -> Iterator[str]:
    """Up to ``count`` lines ending just before ``line_start``, nearest first (each at most
    ``_LINE_CONTEXT`` characters: the work stays bounded on very long lines)."""
    end = line_start - 1
    for _ in range(count):
        if end < 0:
            return
        line = _line_prefix(text, end)
        yield line
        end -= len(line) + 1


def _next_line(text: str, position: int) -> str:
    start = text.find("\n", position, position + _LINE_CONTEXT)
    if start < 0:
        return ""
    end = text.find("\n", start + 1, start + 1 + _LINE_CONTEXT)
    return text[start + 1 : end if end >= 0 else start + 1 + _LINE_CONTEXT]


# --- names ------------------------------------------------------------------------------------------


def _find_names(text: str) -> Iterator[_Found]:
    """Names under name labels, in letters and on label stickers, each with whose it is."""
    found: list[tuple[int, _Found]] = []
    for match in _NAME_RE.finditer(text):
        if _COMPOUND_LABEL.search(_line_prefix(text, match.start())[-4:]):
            continue
        kind, party = _name_label_kind(match["label"])
        if party == "none":  # a plain "Name:": whose, its block says
            party, about = _party_at(text, match.start(), staff=True)
            kind = about if party not in ("none", "patient") else kind
        value = match.group("value")
        if not value.strip():  # a label wrapped at the end of a line: the name is on the next one
            value = _next_line(text, match.end())
        name = parse_name(value)
        if name is not None:
            found.append((match.start(), _Found(name, party, kind)))
    for match in _LAST_NAME_RE.finditer(text):
        found.extend(_split_fields(text, match))
    for match in _LETTER_RE.finditer(text):
        name = parse_name(match["value"])
        if name is not None:
            found.append((match.start(), _Found(name, "patient", "letter")))
    for match in _STICKER_RE.finditer(text):
        beside = "\n".join(text[match.end() : match.end() + _LINE_CONTEXT].split("\n", 2)[:2])
        if not (_MRN_RE.search(beside) or _DOB_LABEL_RE.search(beside)):
            continue
        party, _ = _party_at(text, match.start(), staff=True)
        name = parse_name(match["value"])
        if name is not None and party in ("none", "patient"):
            found.append((match.start(), _Found(name, "patient", "label sticker")))
    found.sort(key=lambda item: item[0])
    yield from (f for _, f in found)


def _split_fields(text: str, last: re.Match[str]) -> Iterator[tuple[int, _Found]]:
    """The name of a form with separate Last Name and First Name fields (the first name on the
    same line after the last, or on the next line), whose its block says."""
    prefix = _line_prefix(text, last.start())
    if re.search(r"[A-Za-z]\.? ?$", prefix[-4:]):
        return  # "Guarantor Last Name:"
    value = last["value"]
    first = _FIRST_NAME_RE.search(value)
    if first is not None:
        value = value[: first.start()]  # both fields on one line
    else:
        first = _FIRST_NAME_RE.match(_next_line(text, last.start()).lstrip())
    if first is None:
        return
    last_words = _name_words(_before_stop(value))
    first_words = _name_words(_before_stop(first["value"]))
    if len(last_words) > 3 or not last_words or not first_words or len(first_words) > 3:
        return
    party, about = _party_at(text, last.start(), staff=True)
    name = PersonName(" ".join(last_words), first_words[0], " ".join(first_words[1:]))
    if len(name.last) < 2 or any(w in _NOT_NAMES for w in (*last_words, *first_words)):
        return
    yield last.start(), _Found(name, party, about if party not in ("none", "patient") else "last/first name")


def _before_stop(value: str) -> str:
    stop = _NAME_STOP.search(value)
    return (value[: stop.start()] if stop else value).strip(" \t,;:.-")


def _name_label_kind(label: str) -> tuple[str, Party]:
    for kind, party, pattern in _NAME_LABEL_KINDS:
        if pattern.fullmatch(label):
            return kind, party
    return "name", "none"


def _other_names(text: str) -> Iterator[str]:
    """Kinds of the other people named under their own labels (guarantor, physician...)."""
    for match in _OTHER_NAME_RE.finditer(text):
        if parse_name(match["value"], staff_ok=True) is not None:
            yield _party_kind(match["label"].split()[0] if " " in match["label"] else match["label"])[0]


def parse_name(value: str, *, staff_ok: bool = False) -> PersonName | None:
    """A PersonName from the text after a name label: "LAST, FIRST [M.]" or "First [M.] Last"
    (stops at the next label, a number or a wide gap). None when it does not look like a name,
    or (unless ``staff_ok``) when it is a physician's or nurse's (Dr., MD, RN)."""
    value = _NICKNAME_IN_NAME.sub("", value)
    stop = _NAME_STOP.search(value)
    value = (value[: stop.start()] if stop else value).strip(" \t,;:.-")
    if not value:
        return None
    raw = [w for w in (normalize_name(w) for w in value.split()) if w]
    if not staff_ok and raw and (raw[0] in _STAFF_TITLES or raw[-1] in _CREDENTIALS):
        return None
    last_part, comma, rest = value.partition(",")
    rest_words = _name_words(rest) if comma else []
    if comma and rest_words and all(w in _SUFFIXES | _CREDENTIALS for w in rest_words):
        value, comma = last_part, ""  # "John A. Smith, Jr."
    if comma:
        last_words = _name_words(last_part)
        rest_words = _name_words(rest)
        if not last_words or not rest_words:
            return None
        last, first, middle = " ".join(last_words), rest_words[0], " ".join(rest_words[1:])
        words = last_words + rest_words
    else:
        words = _name_words(_split_glued(value))
        if len(words) < 2:
            return None
        start = len(words) - 1
        while start > 1 and words[start - 1] in _PARTICLES:
            start -= 1  # "Pieter van der Berg": the particles belong to the last name
        last, first, middle = " ".join(words[start:]), words[0], " ".join(words[1:start])
    if len(words) > _MAX_NAME_WORDS or len(last) < 2 or any(w in _NOT_NAMES for w in words):
        return None
    return PersonName(last=last, first=first, middle=middle)


def _split_glued(value: str) -> str:
    """Split a one-word value OCR glued together: "MaryLopez" -> "Mary Lopez" (not "McDonald")."""
    match = _GLUED.fullmatch(value)
    if match is None or match["first"].lower() in _NAME_PREFIXES:
        return value
    return f"{match['first']} {match['last']}"


def _name_words(part: str) -> list[str]:
    """Normalized words of a name part, honorifics, suffixes and credentials removed."""
    words = [w for w in (normalize_name(raw) for raw in part.translate(_NAME_FIX).split()) if w]
    while words and words[0] in _HONORIFICS | _STAFF_TITLES:
        words = words[1:]
    while len(words) > 1 and words[-1] in _SUFFIXES | _CREDENTIALS:
        words = words[:-1]
    return words


# --- dates of birth ---------------------------------------------------------------------------------


def _find_dobs(text: str, today: dt.date) -> Iterator[_Found]:
    """Each DOB with whose it is and whether its format fixes day and month (a month name, ISO)."""
    for match in _DOB_LABEL_RE.finditer(text):
        value = _parse_date(_LINE_WRAP.sub("", text[match.end() : match.end() + 48], count=1), today)
        if value is None:
            continue
        party, about = _party_at(text, match.start(), staff=False)
        kind = _dob_kind(match.group("label") or match.group(0))
        yield _Found(value[0], party, about if party in ("other", "weak") else kind, value[1])


def _dob_kind(label: str) -> str:
    low = re.sub(r"\s+", " ", label.lower().translate(str.maketrans("0|1l8", "oiiib"))).strip(" :;#.=-")
    if low.startswith("born"):
        return "born"
    if "/" in low:
        return "b/d" if low.startswith("b") else "d.o.b."
    if "dt" in low:
        return "birth dt"
    if "day" in low:
        return "birthday"
    if "of" in low:
        return "date of birth"
    if low.startswith("bi"):
        return "birthdate" if " " not in low else "birth date"
    return "d.o.b." if "." in low else "dob"


def _find_sexes(text: str) -> Iterator[str]:
    """ "M" or "F" for each Sex/Gender label about the patient."""
    for match in _SEX_RE.finditer(text):
        if _party_at(text, match.start(), staff=False)[0] in ("none", "patient"):
            yield match["value"][0].upper()


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """The date at the start of ``text`` in one of the supported formats, or None.
    Numeric a/b/y is US month/day (day/month only when the first number exceeds 12);
    d.m.y is day.month; two-digit years pivot to the latest year not after ``today``."""
    found = _parse_date(text, today)
    return None if found is None else found[0]


def _parse_date(text: str, today: dt.date) -> tuple[dt.date, bool] | None:
    for pattern, build in _DATE_FORMATS:
        match = pattern.match(text)
        if match is not None:
            value = build(match, today)
            return None if value is None else (value, pattern in _FIXED_ORDER)
    return None


def _num(text: str) -> int:
    return int(text.translate(_DIGIT_FIX))


def _from_iso(match: re.Match[str], today: dt.date) -> dt.date | None:
    return _valid_date(_num(match["y"]), _num(match["m"]), _num(match["d"]), today, two_digit=False)


def _from_numeric(match: re.Match[str], today: dt.date) -> dt.date | None:
    """Month and day as the pattern names them, swapped only when that is the one valid reading."""
    month, day = _num(match["m"]), _num(match["d"])
    if month > 12 >= day:
        month, day = day, month
    return _valid_date(_num(match["y"]), month, day, today, two_digit=len(match["y"]) == 2)


def _from_month_name(match: re.Match[str], today: dt.date) -> dt.date | None:
    month = _MONTHS.get(match["mon"].lower()) or _OCR_MONTHS.get(_ocr_canonical(match["mon"]))
    if month is None:
        return None
    return _valid_date(_num(match["y"]), month, _num(match["d"]), today, two_digit=len(match["y"]) == 2)


_DATE_FORMATS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], dt.date], dt.date | None]], ...] = (
    (_ISO_RE, _from_iso),
    (_US_RE, _from_numeric),
    (_DOTTED_RE, _from_numeric),
    (_MONTH_FIRST_RE, _from_month_name),
    (_DAY_FIRST_RE, _from_month_name),
)
_FIXED_ORDER = (_ISO_RE, _MONTH_FIRST_RE, _DAY_FIRST_RE)  # day and month cannot be swapped


def _valid_date(year: int, month: int, day: int, today: dt.date, *, two_digit: bool) -> dt.date | None:
    if two_digit:
        year += 2000 if _safe_date(2000 + year, month, day, today) is not None else 1900
    value = _safe_date(year, month, day, today)
    return value if value is not None and value.year >= _EARLIEST_YEAR else None


def _safe_date(year: int, month: int, day: int, today: dt.date) -> dt.date | None:
    try:
        value = dt.date(year, month, day)
    except ValueError:
        return None
    return value if value <= today else None
