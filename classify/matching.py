"""Link a document to a roster patient. Filing to the wrong patient is the worst
error the product can make, so every doubt ends in review.

* No MRN, name or DOB on the page: "no patient identifiers".
* Two MRNs that differ after ``normalize_mrn``: "conflicting MRNs".
* One MRN, not in the roster: "mrn not in roster" (name/DOB suggestions listed, never filed).
* One MRN in the roster: filed only when corroborated (an exact DOB, or an agreeing name;
  a day/month-transposed DOB counts only beside the name) and contradicted by nothing on
  the page ("dob contradicts mrn", "name contradicts mrn", "mrn not corroborated").
* No MRN: candidates blocked by last-name key and DOB are scored on name + DOB
  (``score_candidate``); the best files only with both a name and a DOB on the page, a
  score >= ``min_match_score``, a lead of ``min_margin`` over the runner-up, agreeing
  names (not by initial) and DOB, and no other name or DOB on the page against it
  ("name only", "dob only", "no roster match", "conflicting identifiers", "ambiguous: N candidates").

Reasons are fixed phrases: they never contain names, MRNs or dates.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import Enum

from rapidfuzz.distance import JaroWinkler

from chartclerk.classify.models import Identifiers, Patient, PatientMatch, PersonName, Roster
from chartclerk.classify.roster import normalize_mrn, normalize_name
from chartclerk.settings import PatientSettings

log = logging.getLogger(__name__)

MAX_CANDIDATES = 5

# Name similarity (Jaro-Winkler in [0, 1]) thresholds.
NAME_AGREES = 0.85  # last name at least this, first name at least FIRST_AGREES (or nickname/initial)
FIRST_AGREES = 0.8
NAME_CONTRADICTS = 0.7  # last name below this, or first name below it without nickname/initial: different
NICKNAME_SIM = 0.95
INITIAL_SIM = 0.75  # "SMITH, J" against JOHN: enough beside an MRN, never on its own
SWAPPED_PENALTY = 0.97  # "SMITH JOHN" printed without a comma reads as first=SMITH
COMPOUND_PENALTY = 0.95  # "GARCIA" against "GARCIA LOPEZ"

# DOB similarity.
DOB_EXACT = 1.0
DOB_TRANSPOSED = 0.7  # day and month swapped
DOB_YEAR_OFF = 0.5  # same day and month, year off by one, by a century or by one digit

# Score without an MRN: weighted sum of DOB and sharpened name similarities.
W_DOB, W_LAST, W_FIRST = 0.40, 0.35, 0.25

# Score with a corroborated MRN.
MRN_NAME_DOB, MRN_DOB, MRN_NAME_TRANSPOSED, MRN_NAME = 0.97, 0.95, 0.92, 0.90
MRN_ALONE, MRN_TRANSPOSED_ONLY = 0.6, 0.7
_EPS = 1e-9

_NICKNAME_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "ROBERT BOB BOBBY ROB ROBBIE BERT",
        "WILLIAM BILL BILLY WILL WILLIE LIAM",
        "ELIZABETH LIZ LIZZIE BETH BETTY BETSY ELIZA LIZA LISA",
        "MARGARET PEGGY MAGGIE MEG MARGE MARGIE GRETA",
        "RICHARD RICK RICKY DICK RICH",
        "JAMES JIM JIMMY JAMIE",
        "JOHN JACK JOHNNY JON",
        "JOSEPH JOE JOEY",
        "THOMAS TOM TOMMY",
        "CHARLES CHARLIE CHUCK",
        "MICHAEL MIKE MICKEY",
        "DAVID DAVE",
        "DANIEL DAN DANNY",
        "EDWARD ED EDDIE TED NED",
        "THEODORE TED TEDDY",
        "ANTHONY TONY",
        "CHRISTOPHER CHRIS",
        "CHRISTINE CHRISTINA CHRIS TINA",
        "KATHERINE CATHERINE KATHRYN KATE KATHY CATHY KATIE",
        "PATRICIA PAT PATTY TRISH",
        "PATRICK PAT",
        "SUSAN SUE SUSIE",
        "DEBORAH DEBRA DEBBIE DEB",
        "JENNIFER JEN JENNY",
        "ALEXANDER ALEX AL",
        "ALBERT AL BERT",
        "BENJAMIN BEN",
        "SAMUEL SAM",
        "SAMANTHA SAM",
        "STEVEN STEPHEN STEVE",
        "NICHOLAS NICK",
        "MATTHEW MATT",
        "GREGORY GREG",
        "HENRY HANK HARRY",
        "HAROLD HAL HARRY",
        "LAWRENCE LARRY",
        "GERALD JERRY",
        "DOROTHY DOT DOTTIE",
        "ABIGAIL ABBY",
        "REBECCA BECKY",
        "VICTORIA VICKY TORI",
        "ANDREW ANDY DREW",
        "DONALD DON",
        "RONALD RON",
        "KENNETH KEN KENNY",
        "TIMOTHY TIM",
        "PETER PETE",
        "FREDERICK FRED",
        "RAYMOND RAY",
        "EUGENE GENE",
        "FRANCIS FRANK",
        "FRANKLIN FRANK",
        "JUDITH JUDY",
        "BARBARA BARB BARBIE",
        "SUZANNE SUE",
        "VIRGINIA GINNY GINGER",
    )
)


class _Agreement(Enum):
    absent = "absent"
    agrees = "agrees"
    weak = "weak"  # doubtful name, or transposed DOB
    contradicts = "contradicts"


@dataclass(frozen=True, slots=True)
class NameSimilarity:
    last: float
    first: float
    initial: bool  # the page gives only an initial, and it matches


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    patient: Patient
    score: float
    name: NameSimilarity
    dob: float


def match_patient(ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    """The patient this document may be filed to (``mrn`` set), or a review verdict with a reason."""
    result = _decide(ids, roster, settings)
    log.debug(
        "patient match: %s (filed=%s, %d candidates)", result.reason, result.filed, len(result.candidates)
    )
    return result


def _decide(ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    if not ids.mrns and not ids.names and not ids.dobs:
        return PatientMatch(None, None, "no patient identifiers")
    mrns = _distinct_mrns(ids.mrns)
    if len(mrns) > 1:
        return _conflicting_mrns(mrns, ids, roster)
    if len(mrns) == 1:
        return _match_by_mrn(mrns[0], ids, roster, settings)
    return _match_by_name_dob(ids, roster, settings)


def _distinct_mrns(mrns: tuple[str, ...]) -> tuple[str, ...]:
    """The page's MRNs as first printed, one per ``normalize_mrn`` value."""
    distinct: dict[str, str] = {}
    for mrn in mrns:
        if normalize_mrn(mrn):
            distinct.setdefault(normalize_mrn(mrn), mrn.strip())
    return tuple(distinct.values())


# --- with an MRN ------------------------------------------------------------------------------------


def _match_by_mrn(mrn: str, ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    patient = roster.by_mrn(mrn)
    if patient is None:
        suggestions = _rank(ids, roster)
        best = suggestions[0].score if suggestions else None
        return PatientMatch(None, best, "mrn not in roster", _top(suggestions))
    score, reason, corroborated = assess_mrn_patient(patient, ids)
    candidates = ((patient.mrn, score),)
    if not corroborated:
        return PatientMatch(None, score, reason, candidates)
    if score < settings.min_match_score - _EPS:
        return PatientMatch(None, score, "mrn match below threshold", candidates)
    return PatientMatch(patient.mrn, score, reason, candidates)


def assess_mrn_patient(patient: Patient, ids: Identifiers) -> tuple[float, str, bool]:
    """(score, reason, corroborated) for the roster patient the page's MRN points to."""
    name, name_quality = _name_agreement(ids.names, patient)
    dob = _dob_agreement(ids.dobs, patient.dob)
    if dob is _Agreement.contradicts:
        return 0.0, "dob contradicts mrn", False
    if name is _Agreement.contradicts:
        return 0.0, "name contradicts mrn", False
    if dob is _Agreement.agrees and name is _Agreement.agrees:
        return _round(MRN_NAME_DOB + (1 - MRN_NAME_DOB) * name_quality), "mrn+name+dob agree", True
    if dob is _Agreement.agrees:
        return MRN_DOB, "mrn+dob agree", True
    if name is _Agreement.agrees and dob is _Agreement.weak:
        return _round(MRN_NAME_TRANSPOSED + 0.03 * name_quality), "mrn+name agree, dob transposed", True
    if name is _Agreement.agrees:
        return _round(MRN_NAME + 0.05 * name_quality), "mrn+name agree", True
    score = MRN_TRANSPOSED_ONLY if dob is _Agreement.weak else MRN_ALONE
    return score, "mrn not corroborated", False


def _conflicting_mrns(mrns: tuple[str, ...], ids: Identifiers, roster: Roster) -> PatientMatch:
    found: list[tuple[str, float]] = []
    for mrn in mrns:
        patient = roster.by_mrn(mrn)
        if patient is not None:
            found.append((patient.mrn, assess_mrn_patient(patient, ids)[0]))
    found.sort(key=lambda c: (-c[1], c[0]))
    return PatientMatch(
        None, found[0][1] if found else None, "conflicting MRNs", tuple(found[:MAX_CANDIDATES])
    )


def _name_agreement(names: tuple[PersonName, ...], patient: Patient) -> tuple[_Agreement, float]:
    """How the page's names compare with the patient's: any clearly different name contradicts."""
    if not names:
        return _Agreement.absent, 0.0
    sims = [name_similarity(n, patient) for n in names]
    if any(_name_contradicts(s) for s in sims):
        return _Agreement.contradicts, 0.0
    agreeing = [s for s in sims if _name_agrees(s, allow_initial=True)]
    if agreeing:
        return _Agreement.agrees, max(min(s.last, s.first) for s in agreeing)
    return _Agreement.weak, 0.0


def _name_agrees(sim: NameSimilarity, *, allow_initial: bool) -> bool:
    first_ok = sim.first >= FIRST_AGREES - _EPS or (allow_initial and sim.initial)
    return sim.last >= NAME_AGREES - _EPS and first_ok


def _name_contradicts(sim: NameSimilarity) -> bool:
    return sim.last < NAME_CONTRADICTS or (sim.first < NAME_CONTRADICTS and not sim.initial)


def _dob_agreement(dobs: tuple[dt.date, ...], dob: dt.date) -> _Agreement:
    if not dobs:
        return _Agreement.absent
    sims = [dob_similarity(d, dob) for d in dobs]
    if any(s < DOB_TRANSPOSED - _EPS for s in sims):
        return _Agreement.contradicts
    return _Agreement.agrees if any(s >= DOB_EXACT for s in sims) else _Agreement.weak


# --- without an MRN ---------------------------------------------------------------------------------


def _match_by_name_dob(ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    ranked = _rank(ids, roster)
    candidates = _top(ranked)
    best = ranked[0].score if ranked else None
    if not ids.dobs:
        return PatientMatch(None, best, "name only", candidates)
    if not ids.names:
        return PatientMatch(None, best, "dob only", candidates)
    if not ranked or ranked[0].score < settings.min_match_score - _EPS or not _fileable(ranked[0]):
        return PatientMatch(None, best, "no roster match", candidates)
    if _contradicted(ids, ranked[0].patient):
        return PatientMatch(None, best, "conflicting identifiers", candidates)
    close = [c for c in ranked if ranked[0].score - c.score < settings.min_margin - _EPS]
    if len(close) > 1:
        return PatientMatch(None, best, f"ambiguous: {len(close)} candidates", candidates)
    return PatientMatch(ranked[0].patient.mrn, ranked[0].score, "name+dob agree", candidates)


def _fileable(c: ScoredCandidate) -> bool:
    """Whatever the configured threshold: names agree (not by initial) and the DOB is exact or transposed."""
    return c.dob >= DOB_TRANSPOSED - _EPS and _name_agrees(c.name, allow_initial=False)


def _contradicted(ids: Identifiers, patient: Patient) -> bool:
    """Another name or DOB on the page (a second person?) disagrees with the best candidate."""
    name, _ = _name_agreement(ids.names, patient)
    return name is _Agreement.contradicts or _dob_agreement(ids.dobs, patient.dob) is _Agreement.contradicts


def _rank(ids: Identifiers, roster: Roster) -> list[ScoredCandidate]:
    """Blocked roster candidates scored on the page's names and DOBs, best first."""
    if not ids.names and not ids.dobs:
        return []
    blocking_names = tuple(dict.fromkeys(part for n in ids.names for part in (n.last, n.first) if part))
    blocking_dobs = tuple(dict.fromkeys(d for dob in ids.dobs for d in (dob, *_transposed(dob))))
    scored = [score_candidate(ids, p) for p in roster.candidates(blocking_names, blocking_dobs)]
    scored = [s for s in scored if s.score > 0]
    scored.sort(key=lambda s: (-s.score, normalize_mrn(s.patient.mrn)))
    return scored


def score_candidate(ids: Identifiers, patient: Patient) -> ScoredCandidate:
    """Name + DOB score in [0, 1] of one roster patient against the page (no MRN involved)."""
    name = max(
        (name_similarity(n, patient) for n in ids.names),
        key=_name_points,
        default=NameSimilarity(0.0, 0.0, False),
    )
    dob = max((dob_similarity(d, patient.dob) for d in ids.dobs), default=0.0)
    return ScoredCandidate(patient, _round(_name_points(name) + W_DOB * dob), name, dob)


def _name_points(sim: NameSimilarity) -> float:
    return W_LAST * _sharpen(sim.last) + W_FIRST * _sharpen(sim.first)


def _sharpen(similarity: float) -> float:
    """Stretch [0.5, 1] to [0, 1]: one OCR error costs little, a different name costs all."""
    return max(0.0, 2 * similarity - 1)


def _top(ranked: list[ScoredCandidate]) -> tuple[tuple[str, float], ...]:
    return tuple((s.patient.mrn, s.score) for s in ranked[:MAX_CANDIDATES])


# --- similarities -----------------------------------------------------------------------------------


def name_similarity(name: PersonName, patient: Patient) -> NameSimilarity:
    """Last- and first-name similarity of a page name to a patient; the name read the
    other way round (first and last swapped) counts too, slightly discounted."""
    last, first = normalize_name(patient.last), normalize_name(patient.first)
    straight = NameSimilarity(
        last_name_similarity(name.last, last),
        first_name_similarity(name.first, first),
        _initial_matches(name.first, first),
    )
    swapped = NameSimilarity(
        SWAPPED_PENALTY * last_name_similarity(name.first, last),
        SWAPPED_PENALTY * first_name_similarity(name.last, first),
        False,
    )
    return max(straight, swapped, key=_name_points)


def last_name_similarity(page: str, roster: str) -> float:
    if not page or not roster:
        return 0.0
    best = max(_jw(page, roster), _jw(page.replace(" ", ""), roster.replace(" ", "")))
    page_words, roster_words = page.split(), roster.split()
    if len(page_words) > 1 or len(roster_words) > 1:
        parts = (_jw(a, b) for a in page_words for b in roster_words if len(a) > 1 and len(b) > 1)
        best = max(best, COMPOUND_PENALTY * max(parts, default=0.0))
    return best


def first_name_similarity(page: str, roster: str) -> float:
    if not page or not roster:
        return 0.0
    roster_first = roster.split()[0]
    page_first = page.split()[0]
    best = max(_jw(page, roster), _jw(page_first, roster_first))
    if is_nickname(page_first, roster_first):
        best = max(best, NICKNAME_SIM)
    return best


def _initial_matches(page: str, roster: str) -> bool:
    return len(page) == 1 and roster.startswith(page)


def is_nickname(a: str, b: str) -> bool:
    """True when two different first names are in one nickname group (Bob and Robert)."""
    return a != b and any(a in group and b in group for group in _NICKNAME_GROUPS)


def dob_similarity(page: dt.date, roster: dt.date) -> float:
    if page == roster:
        return DOB_EXACT
    if page == _transposed_or_none(roster):
        return DOB_TRANSPOSED
    if (page.month, page.day) == (roster.month, roster.day) and _year_off(page.year, roster.year):
        return DOB_YEAR_OFF
    return 0.0


def _year_off(a: int, b: int) -> bool:
    differing_digits = sum(x != y for x, y in zip(f"{a:04d}", f"{b:04d}", strict=True))
    return abs(a - b) in (1, 100) or differing_digits == 1


def _transposed_or_none(d: dt.date) -> dt.date | None:
    if d.day > 12 or d.day == d.month:
        return None
    try:
        return dt.date(d.year, d.day, d.month)
    except ValueError:
        return None


def _transposed(d: dt.date) -> tuple[dt.date, ...]:
    swapped = _transposed_or_none(d)
    return () if swapped is None else (swapped,)


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.normalized_similarity(a, b))


def _round(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)
