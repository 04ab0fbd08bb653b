"""Patient identifiers (MRN, name, date of birth, sex) found under their labels in OCR text.

Only labeled values count: a date is a DOB only after a DOB label, a number is an
MRN only after an MRN label (an account-number label counts only on documents with no
other MRN label). Values keep their order of first appearance and are deduplicated
(MRNs by ``normalize_mrn``). OCR confusions are undone inside digit runs (O/o -> 0,
I/l/| -> 1, S -> 5, B -> 8) and inside name words (0 -> O, 1 -> I, 5 -> S), and
tolerated in labels and month names ("Paticnt", "Dote of Birth", "Morcb 3").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator

from chartclerk.classify.models import Identifiers, PersonName
from chartclerk.classify.roster import normalize_mrn, normalize_name

log = logging.getLogger(__name__)

_D = r"[0-9OoIl|SB]"  # a digit as OCR may print it
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8"})
_PATIENT = (
    r"p[ao]t[il1|][ec](?:n|ri)t"  # "Patient", also as OCR misreads it ("Paticnt", "Potient", "Patierit")
)
_NAME = r"n[ao](?:m|rn)[ec]"  # "Name", "Narne", "Nome"
_BIRTH_DATE = r"d[ao]t[ec][ \t]*[o0]f[ \t]*b[il1|]rth|b[il1|]rth[ \t]*d[ao]t[ec]"  # also "Dote of Birth"
_NAME_FIX = str.maketrans({"0": "O", "1": "I", "5": "S"})

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

_NAME_RE = re.compile(
    rf"(?<![A-Za-z])(?P<label>(?:{_PATIENT}|pt)\.?[ \t]*{_NAME}|{_PATIENT}|{_NAME}|re|regarding)"
    r"[ \t]*[:;][ \t]*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
_NAME_STOP = re.compile(
    r"(?<![A-Za-z])(?:d\.?[o0]\.?[b8]|date|birth|born|mrn|m\.r\.n|sex|gender|age|acct|account|med|medical|chart"
    r"|id|room|rm|ssn|phone|tel|address|dos|admit|admission|visit|encounter|provider|physician)"
    r"(?![A-Za-z])|(?-i:MRN|MR\#|D[O0][B8]|MED[Il1|]CAL)|\s{2,}|[\t|(\[]|\d{2}",
    re.IGNORECASE,
)
_COMPOUND_LABEL = re.compile(r"[A-Za-z]\.? ?$")  # "Physician Name:", "Guarantor Name:" are not the patient
# Someone other than the patient: their name and DOB fields are skipped when this word is just before
# the label on its line, or on one of the CONTEXT_LINES lines above (up to a line naming the patient).
_OTHER_PARTY = re.compile(
    r"emergency|contact|guarantor|subscriber|insured|policy\s*holder|employer|next\s+of\s+kin|spouse"
    r"|parent|guardian|responsible\s+party|mother|father|witness|interpreter",
    re.IGNORECASE,
)
_PATIENT_WORD = re.compile(_PATIENT, re.IGNORECASE)
CONTEXT_LINES = 3
_SAME_LINE_CONTEXT = 30
_LINE_CONTEXT = 200  # characters of a line looked at around a label (bounds the work on very long lines)
_HONORIFICS = frozenset(("MR", "MRS", "MS", "MISS", "MX", "DR"))
_SUFFIXES = frozenset(("JR", "SR", "II", "III", "IV", "MD", "DO", "PHD", "RN"))
_NOT_NAMES = frozenset(
    (
        "DOB", "MRN", "AND", "THE", "OF", "FOR", "TO", "WITH", "IN", "ON", "AT", "BY", "FROM", "YOUR",
        "OUR", "PATIENT", "RESULTS", "RESULT", "REPORT", "REFERRAL", "CONSULT", "CONSULTATION",
        "EVALUATION", "FOLLOW", "UP", "REQUEST", "LAB", "LABS", "APPOINTMENT", "RECORDS", "RECORD", "NOTE",
        "NOTES", "UNKNOWN", "NONE", "NA", "SAME", "SELF", "SEE", "ABOVE", "BELOW", "INSURANCE", "CLAIM",
        "POLICY", "AUTHORIZATION", "PRIOR", "TREATMENT", "SURGERY", "IMAGING", "STUDY", "EXAM", "VISIT",
        "SUMMARY"
    )
)  # fmt: skip
_MAX_NAME_WORDS = 5
_GLUED = re.compile(r"(?P<first>[A-Z][a-z]+)(?P<last>[A-Z][A-Za-z'\-]+)")
_NAME_PREFIXES = frozenset({"mc", "mac", "de", "di", "da", "del", "la", "le", "van", "von", "st"})

_DOB_LABEL_RE = re.compile(
    rf"(?:(?<![A-Za-z])(?:d\.?[ \t]?[o0]\.?[ \t]?[b8]\.?|{_BIRTH_DATE}"
    r"|born(?:[ \t]+on)?)|(?-i:D[O0][B8]))"  # upper case "DOB" also glued to the word before
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
_ISO_RE = re.compile(rf"(?P<y>{_D}{{4}})-(?P<m>{_D}{{1,2}})-(?P<d>{_D}{{1,2}}){_END}")
_US_RE = re.compile(
    rf"(?P<m>{_D}{{1,2}}) ?(?P<sep>[/-]) ?(?P<d>{_D}{{1,2}}) ?(?P=sep) ?(?P<y>{_D}{{4}}|{_D}{{2}}){_END}"
)
_DOTTED_RE = re.compile(rf"(?P<d>{_D}{{1,2}})\.(?P<m>{_D}{{1,2}})\.(?P<y>{_D}{{4}}|{_D}{{2}}){_END}")
_MONTH_WORD = r"[A-Za-z0][A-Za-z]{2,8}"  # "0ctober" too
_MONTH_FIRST_RE = re.compile(
    rf"(?P<mon>{_MONTH_WORD})\.?[ \t]+(?P<d>{_D}{{1,2}})(?:st|nd|rd|th)?,?[ \t]+(?P<y>{_D}{{4}}){_END}"
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


def extract_identifiers(text: str, *, today: dt.date | None = None) -> Identifiers:
    """MRNs, patient names and DOBs printed under their labels in ``text`` (all pages joined).
    ``today`` (default: the current date) bounds DOBs and pivots two-digit years."""
    today = today or dt.date.today()
    dobs = list(_find_dobs(text, today))
    ids = Identifiers(
        mrns=_dedupe_mrns(_find_mrns(text)),
        names=tuple(dict.fromkeys(_find_names(text))),
        dobs=tuple(dict.fromkeys(d for d, _ in dobs)),
        sexes=tuple(dict.fromkeys(_find_sexes(text))),
        fixed_dobs=tuple(dict.fromkeys(d for d, fixed in dobs if fixed)),
    )
    log.debug(
        "identifiers: %d mrns, %d names, %d dobs, %d sexes",
        len(ids.mrns), len(ids.names), len(ids.dobs), len(ids.sexes),
    )  # fmt: skip
    return ids


# --- MRNs -------------------------------------------------------------------------------------------


def _find_mrns(text: str) -> Iterator[str]:
    """Values under MRN labels; those under an account-number label only when there are none."""
    account: list[str] = []
    found = False
    for match in _MRN_RE.finditer(text):
        value = _clean_mrn(match.group("value"))
        if value is None:
            continue
        if match.group("account") is not None:
            account.append(value)
        else:
            found = True
            yield value
    if not found:
        yield from account


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


# --- context of a label -----------------------------------------------------------------------------


def _about_other_party(text: str, label_start: int) -> bool:
    """True when the label at ``label_start`` is in a block about someone else (guarantor, contact...)."""
    prefix = _line_prefix(text, label_start)
    if _OTHER_PARTY.search(prefix[-_SAME_LINE_CONTEXT:]):
        return True
    if _PATIENT_WORD.search(prefix) or len(prefix) >= _LINE_CONTEXT:
        return False
    for line in _lines_above(text, label_start - len(prefix), CONTEXT_LINES):
        if _OTHER_PARTY.search(line):
            return True
        if _PATIENT_WORD.search(line):
            return False
    return False


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


def _find_names(text: str) -> Iterator[PersonName]:
    for match in _NAME_RE.finditer(text):
        if _COMPOUND_LABEL.search(_line_prefix(text, match.start())[-4:]):
            continue
        if not _PATIENT_WORD.search(match["label"]) and _about_other_party(text, match.start()):
            continue
        value = match.group("value")
        if not value.strip():  # a label wrapped at the end of a line: the name is on the next one
            value = _next_line(text, match.end())
        name = parse_name(value)
        if name is not None:
            yield name


def parse_name(value: str) -> PersonName | None:
    """A PersonName from the text after a name label: "LAST, FIRST [M.]" or "First [M.] Last"
    (stops at the next label, a number or a wide gap). None when it does not look like a name."""
    stop = _NAME_STOP.search(value)
    value = (value[: stop.start()] if stop else value).strip(" \t,;:.-")
    if not value:
        return None
    if "," in value:
        last_part, _, rest = value.partition(",")
        last_words, rest_words = _name_words(last_part), _name_words(rest)
        if not last_words or not rest_words:
            return None
        last, first, middle = " ".join(last_words), rest_words[0], " ".join(rest_words[1:])
        words = last_words + rest_words
    else:
        words = _name_words(_split_glued(value))
        if len(words) < 2:
            return None
        last, first, middle = words[-1], words[0], " ".join(words[1:-1])
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
    """Normalized words of a name part, honorifics and suffixes removed."""
    words = [w for w in (normalize_name(raw) for raw in part.translate(_NAME_FIX).split()) if w]
    while words and words[0] in _HONORIFICS:
        words = words[1:]
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words = words[:-1]
    return words


# --- dates of birth ---------------------------------------------------------------------------------


def _find_dobs(text: str, today: dt.date) -> Iterator[tuple[dt.date, bool]]:
    """Each DOB, and whether its format fixes day and month (a month name, ISO)."""
    for match in _DOB_LABEL_RE.finditer(text):
        if _about_other_party(text, match.start()):
            continue
        value = _parse_date(_LINE_WRAP.sub("", text[match.end() : match.end() + 48], count=1), today)
        if value is not None:
            yield value


def _find_sexes(text: str) -> Iterator[str]:
    """ "M" or "F" for each Sex/Gender label about the patient."""
    for match in _SEX_RE.finditer(text):
        if not _about_other_party(text, match.start()):
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
