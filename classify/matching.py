"""Link a document to a roster patient. Filing to the wrong patient (an overlay) is the
worst error the product can make, so every doubt ends in review.

* A cover sheet (``cover_mrn``, read from its codes; "" when they disagree: "unreadable cover
  sheet") files the document to that patient, provided the MRN is in the roster ("cover sheet
  mrn not in roster") and nothing on the document's own pages contradicts it: another MRN (not
  a misreading of the patient's), a DOB, name or sex that disagrees with the roster entry
  ("contradicts cover sheet").
  Identifiers that agree only add to the score.
* No MRN, name or DOB on the page: "no patient identifiers".
* Two MRNs that differ after ``normalize_mrn``: "conflicting MRNs" (but see below).
* One MRN, not in the roster: "mrn not in roster" (name/DOB suggestions listed), unless name +
  DOB file the document by the rules below to a patient whose MRN the page's is a misreading of
  (one digit OCR confuses): "name+dob agree, mrn misread"; or unless exactly one patient has an
  MRN the page's is such a misreading of, corroborated as below, every other one contradicted
  ("..., mrn misread", the score discounted). Two MRNs on the page are one when only one is in
  the roster and the other is such a misreading of it.
* One MRN in the roster: filed only when corroborated (an exact DOB, or an agreeing name;
  a day/month-transposed DOB counts only beside the name) and contradicted by nothing on
  the page ("dob contradicts mrn", "name contradicts mrn", "sex contradicts mrn",
  "mrn not corroborated"); beside an agreeing name, a DOB with one digit misread as OCR does
  (3/8, 1/7, 5/6...) does not contradict ("mrn+name agree, dob misread"). A DOB alone does
  not corroborate an MRN that a twin's could be misread as: with a same-surname patient born
  the same day whose MRN is one digit (or one swap of neighbours) away, "twin in roster".
* No MRN: candidates blocked by last-name key and DOB are scored on name + DOB
  (``score_candidate``, sex as a veto); the best files only with both a name and a DOB on the
  page, a score >= ``min_match_score``, a lead of ``min_margin`` over the runner-up, agreeing
  names (not by initial) and DOB, no other name, DOB or sex on the page against it, and no
  look-alike: another patient whose name agrees and whose DOB is one OCR error away from the
  page's (a digit misread, day and month swapped, a year off) could be the one the page means
  ("name only", "dob only", "no roster match", "conflicting identifiers",
  "ambiguous: N candidates", "look-alike in roster").

Reasons are fixed phrases: they never contain names, MRNs or dates.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from enum import Enum
from functools import lru_cache

from nicknames import NickNamer
from rapidfuzz.distance import JaroWinkler

from chartclerk.classify.models import Identifiers, Patient, PatientMatch, PersonName, Roster
from chartclerk.classify.roster import blocking_key, normalize_mrn, normalize_name
from chartclerk.settings import PatientSettings

log = logging.getLogger(__name__)

MAX_CANDIDATES = 5

# Name similarity (Jaro-Winkler in [0, 1]) thresholds.
NAME_AGREES = 0.85  # last name at least this, first name at least FIRST_AGREES (or nickname/initial)
FIRST_AGREES = 0.8
NAME_CONTRADICTS = 0.7  # last name below this, or first name below it without nickname/initial: different
NICKNAME_SIM = 0.9  # weaker than the same name: filing by name + DOB then needs the exact DOB
NICKNAME_LAST = 0.95  # the last name beside a first name agreeing only as a nickname
INITIAL_SIM = 0.75  # "SMITH, J" against JOHN: enough beside an MRN, never on its own
SWAPPED_PENALTY = 0.97  # "SMITH JOHN" printed without a comma reads as first=SMITH
COMPOUND_PENALTY = 0.95  # "GARCIA" against "GARCIA LOPEZ"

# DOB similarity.
DOB_EXACT = 1.0
DOB_TRANSPOSED = 0.7  # day and month swapped
DOB_YEAR_OFF = 0.5  # one error apart: a digit of MMDDYYYY, or the year off by one or by a century
# Digit pairs OCR confuses, for the look-alike search: a page's DOB is the true DOB of another
# patient with the same name only through such an error (or day and month swapped, a year off).
_CONFUSED_PAIRS = ("06", "08", "09", "14", "17", "23", "27", "35", "38", "39", "49", "56", "58", "68", "89")
_CONFUSABLE = {d: "".join(sorted(p.replace(d, "") for p in _CONFUSED_PAIRS if d in p)) for d in "0123456789"}
_YEARS = (1850, 2200)

# Sex printed on the page against the roster's: a mismatch vetoes a candidate.
SEX_PENALTY = 0.3

# Cover sheet scores: alone, and with the page's own identifiers agreeing.
COVER_ALONE, COVER_CORROBORATED = 0.95, 0.99

# Score without an MRN: weighted sum of DOB and sharpened name similarities.
W_DOB, W_LAST, W_FIRST = 0.40, 0.35, 0.25

# Score with a corroborated MRN.
MRN_NAME_DOB, MRN_DOB, MRN_NAME_TRANSPOSED, MRN_NAME = 0.97, 0.95, 0.92, 0.90
MRN_ALONE, MRN_TRANSPOSED_ONLY = 0.6, 0.7
MRN_MISREAD_PENALTY = 0.97  # the page's MRN is not in the roster but one OCR error from one that is
_EPS = 1e-9

# Nicknames: the ``nicknames`` package's hand-curated list of English given names and their
# nicknames (Carlton Northern, Apache-2.0): two first names agree by nickname when one is a
# nickname of the other (William/Bill) or both are nicknames of one name (Bob/Rob).
_NICKNAMES = NickNamer()


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
    nickname: bool = False  # the first names agree only as nicknames (Bill and William): weaker


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    patient: Patient
    score: float
    name: NameSimilarity
    dob: float
    sex_contradicts: bool = False


def match_patient(
    ids: Identifiers, roster: Roster, settings: PatientSettings, cover_mrn: str | None = None
) -> PatientMatch:
    """The patient this document may be filed to (``mrn`` set), or a review verdict with a reason.
    ``cover_mrn``: the MRN of the patient cover sheet the document was scanned under, if any."""
    if cover_mrn is not None:
        result = _match_cover(cover_mrn, ids, roster, settings)
    else:
        result = _decide(ids, roster, settings)
        if not result.filed and _names_disagree(ids.names):
            result = replace(result, reason=UNCLEAR_NAME)
    result = replace(result, read=summarize_read(ids.read))
    log.debug(
        "patient match: %s (filed=%s, %d candidates; %s)",
        result.reason, result.filed, len(result.candidates), result.read,
    )  # fmt: skip
    return result


UNCLEAR_NAME = "unclear which name is the patient's"


def summarize_read(read: tuple[str, ...]) -> str:
    """What the page gave and under which kinds of label, for the review list (no PHI):
    "read name [member], dob [d.o.b.]; set aside: name [guarantor]"."""
    own: dict[str, list[str]] = {}
    others: dict[str, list[str]] = {}
    for item in read:
        what, _, kind = item.partition(":")
        table = others if what.startswith("other ") else own
        table.setdefault(what.removeprefix("other "), []).append(kind)
    parts = [f"{what} [{', '.join(dict.fromkeys(kinds))}]" for what, kinds in own.items()]
    text = f"read {', '.join(parts)}" if parts else "nothing read under a patient label"
    if others:
        aside = [f"{what} [{', '.join(dict.fromkeys(kinds))}]" for what, kinds in others.items()]
        text += f"; set aside as someone else's: {', '.join(aside)}"
    return text


def _names_disagree(names: tuple[PersonName, ...]) -> bool:
    """Two names under patient labels that cannot be one person's: which is the patient's?"""
    return any(
        _name_contradicts(_name_similarity(a.last, a.first, a.middle, b.last, b.first))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    )


def _decide(ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    if not ids.mrns and not ids.names and not ids.dobs and not ids.member_ids and not ids.accounts:
        return PatientMatch(None, None, "no patient identifiers")
    mrns = _page_mrns(ids, roster)
    keyed = _keyed_patients(ids, roster)
    if len(mrns) > 1:
        resolved = _one_mrn_misread(mrns, roster) or _one_patient(mrns, roster)
        if resolved is None:
            return _conflicting_mrns(mrns, ids, roster)
        mrns = (resolved,)
    if len(mrns) == 1:
        result = _match_by_mrn(mrns[0], ids, roster, settings)
        if result.mrn is not None and any(normalize_mrn(m) != normalize_mrn(result.mrn) for m in keyed):
            return PatientMatch(None, result.score, "conflicting identifiers", result.candidates)
        return result
    if len(keyed) > 1:
        found = tuple((p.mrn, assess_mrn_patient(p, ids)[0]) for p, _ in keyed.values())
        return PatientMatch(None, max(score for _, score in found), "conflicting identifiers", found)
    if keyed:
        patient, kind = next(iter(keyed.values()))
        return _match_by_key(patient, kind, ids, roster, settings)
    if not ids.names and not ids.dobs:
        return PatientMatch(None, None, "no patient identifiers")
    return _match_by_name_dob(ids, roster, settings)


def _page_mrns(ids: Identifiers, roster: Roster) -> tuple[str, ...]:
    """The page's MRNs; one read under an account-number label only when the roster has it as
    an MRN (otherwise it is an account number, looked up as one)."""
    accounts = {normalize_mrn(a) for a in ids.accounts}
    return tuple(
        m
        for m in _distinct_mrns(ids.mrns)
        if normalize_mrn(m) not in accounts or roster.by_mrn(m) is not None
    )


def _keyed_patients(ids: Identifiers, roster: Roster) -> dict[str, tuple[Patient, str]]:
    """The patients the page's member IDs and account numbers point to in the roster (a number
    the roster gives to several patients, a family's member ID, points to none), by MRN."""
    found: dict[str, tuple[Patient, str]] = {}
    for kind, label, values in (
        ("member_id", "member id", ids.member_ids),
        ("account", "account", ids.accounts),
    ):
        for value in values:
            patients = roster.by_identifier(kind, value)
            if len(patients) == 1:
                found.setdefault(patients[0].mrn, (patients[0], label))
    return found


def _one_patient(mrns: tuple[str, ...], roster: Roster) -> str | None:
    """The page's MRNs are one patient's, current and previous ones (after a merge)."""
    patients = {p.mrn for p in (_lookup_mrn(m, roster)[0] for m in mrns) if p is not None}
    if len(patients) != 1 or any(_lookup_mrn(m, roster)[0] is None for m in mrns):
        return None
    return next(iter(patients))


def _lookup_mrn(mrn: str, roster: Roster) -> tuple[Patient | None, bool]:
    """The patient with this MRN, or the one patient it is a previous MRN of (then True)."""
    patient = roster.by_mrn(mrn)
    if patient is not None:
        return patient, False
    previous = roster.by_identifier("previous_mrn", mrn)
    return (previous[0], True) if len(previous) == 1 else (None, False)


def _match_by_key(
    patient: Patient, kind: str, ids: Identifiers, roster: Roster, settings: PatientSettings
) -> PatientMatch:
    """A member ID or account number the roster gives to one patient: like an MRN, filed only
    when the name or DOB corroborates it and nothing contradicts it; a DOB alone does not
    when a same-surname patient was born the same day (twins share a family's numbers)."""
    score, reason, corroborated = assess_mrn_patient(patient, ids)
    reason = reason.replace("mrn", kind)
    candidates = ((patient.mrn, score),)
    if not corroborated:
        return PatientMatch(None, score, reason, candidates)
    if score < settings.min_match_score - _EPS:
        return PatientMatch(None, score, f"{kind} match below threshold", candidates)
    if reason == f"{kind}+dob agree" and _same_day_namesake(patient, roster):
        return PatientMatch(None, score, "twin in roster", candidates)
    return PatientMatch(patient.mrn, score, reason, candidates)


def _same_day_namesake(patient: Patient, roster: Roster) -> bool:
    key = blocking_key(patient.last)
    same_day = roster.candidates((patient.last,), (patient.dob,), near_dobs=(patient.dob,))
    return any(
        p.mrn != patient.mrn and p.dob == patient.dob and blocking_key(p.last) == key for p in same_day
    )


def _distinct_mrns(mrns: tuple[str, ...]) -> tuple[str, ...]:
    """The page's MRNs as first printed, one per ``normalize_mrn`` value."""
    distinct: dict[str, str] = {}
    for mrn in mrns:
        if normalize_mrn(mrn):
            distinct.setdefault(normalize_mrn(mrn), mrn.strip())
    return tuple(distinct.values())


# --- under a cover sheet ----------------------------------------------------------------------------


def _match_cover(cover_mrn: str, ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    patient = roster.by_mrn(cover_mrn) if normalize_mrn(cover_mrn) else None
    if patient is None:  # what the page itself says goes to the reviewer
        page = _decide(ids, roster, settings)
        reason = "cover sheet mrn not in roster" if normalize_mrn(cover_mrn) else "unreadable cover sheet"
        return PatientMatch(None, page.score, reason, page.candidates)
    mrns = _distinct_mrns(ids.mrns)
    name, _ = _name_agreement(ids.names, patient)
    dob = _dob_agreement(ids, patient.dob)
    other_mrn = any(_another_mrn(m, patient, roster) for m in mrns)
    if other_mrn or _Agreement.contradicts in (name, dob) or _sex_contradicts(ids.sexes, patient.sex):
        page = _decide(ids, roster, settings)  # what the page itself says, for the reviewer
        own = ((patient.mrn, 0.0),) if patient.mrn not in {m for m, _ in page.candidates} else ()
        return PatientMatch(
            None, page.score, "contradicts cover sheet", (*page.candidates, *own)[:MAX_CANDIDATES]
        )
    agreed = bool(mrns) or _Agreement.agrees in (name, dob)
    score = COVER_CORROBORATED if agreed else COVER_ALONE
    candidates = ((patient.mrn, score),)
    if score < settings.min_match_score - _EPS:
        return PatientMatch(None, score, "cover sheet below threshold", candidates)
    return PatientMatch(patient.mrn, score, "cover sheet+page agree" if agreed else "cover sheet", candidates)


def _another_mrn(mrn: str, patient: Patient, roster: Roster) -> bool:
    """An MRN on the page is not the patient's (nor a misreading of it that is no one else's)."""
    norm, own = normalize_mrn(mrn), normalize_mrn(patient.mrn)
    if any(kind == "previous_mrn" and normalize_mrn(value) == norm for kind, value in patient.identifiers):
        return False
    return norm != own and not (_ocr_misread(norm, own) and roster.by_mrn(mrn) is None)


# --- with an MRN ------------------------------------------------------------------------------------


def _match_by_mrn(mrn: str, ids: Identifiers, roster: Roster, settings: PatientSettings) -> PatientMatch:
    patient, previous = _lookup_mrn(mrn, roster)
    if patient is None:  # an outside MRN, or one of ours misread: name + DOB decide which
        by_name = _match_by_name_dob(ids, roster, settings)
        if by_name.mrn is not None and _ocr_misread(normalize_mrn(mrn), normalize_mrn(by_name.mrn)):
            return PatientMatch(by_name.mrn, by_name.score, "name+dob agree, mrn misread", by_name.candidates)
        misread = _misread_mrn(mrn, ids, roster, settings)
        if misread is not None:
            return misread
        return PatientMatch(None, by_name.score, "mrn not in roster", by_name.candidates)
    score, reason, corroborated = assess_mrn_patient(patient, ids)
    candidates = ((patient.mrn, score),)
    if not corroborated:
        return PatientMatch(None, score, reason, candidates)
    if score < settings.min_match_score - _EPS:
        return PatientMatch(None, score, "mrn match below threshold", candidates)
    if reason == "mrn+dob agree" and _has_twin(patient, patient.mrn if previous else mrn, roster):
        return PatientMatch(None, score, "twin in roster", candidates)
    return PatientMatch(patient.mrn, score, f"{reason}, previous mrn" if previous else reason, candidates)


def _misread_mrn(
    mrn: str, ids: Identifiers, roster: Roster, settings: PatientSettings
) -> PatientMatch | None:
    """The one roster patient whose MRN the page's is a misreading of (one digit OCR confuses),
    when the name or DOB on the page corroborate it and every other such patient is contradicted."""
    norm = normalize_mrn(mrn)
    variants = tuple(
        norm[:i] + other + norm[i + 1 :]
        for i, digit in enumerate(norm)
        for other in _CONFUSABLE.get(digit, "")
    )
    assessed = [(p, assess_mrn_patient(p, ids)) for p in roster.by_mrns(variants)]
    corroborated = [(p, score, reason) for p, (score, reason, ok) in assessed if ok]
    if len(corroborated) != 1 or any(score > 0 and not ok for _, (score, _, ok) in assessed):
        return None
    patient, score, reason = corroborated[0]
    score = _round(score * MRN_MISREAD_PENALTY)
    if score < settings.min_match_score - _EPS or (
        reason == "mrn+dob agree" and _has_twin(patient, mrn, roster)
    ):
        return None
    return PatientMatch(patient.mrn, score, f"{reason}, mrn misread", ((patient.mrn, score),))


def assess_mrn_patient(patient: Patient, ids: Identifiers) -> tuple[float, str, bool]:
    """(score, reason, corroborated) for the roster patient the page's MRN points to."""
    name, name_quality = _name_agreement(ids.names, patient)
    dob = _dob_agreement(ids, patient.dob)
    if dob is _Agreement.contradicts:
        return 0.0, "dob contradicts mrn", False
    if name is _Agreement.contradicts:
        return 0.0, "name contradicts mrn", False
    if _sex_contradicts(ids.sexes, patient.sex):
        return 0.0, "sex contradicts mrn", False
    if dob is _Agreement.agrees and name is _Agreement.agrees:
        return _round(MRN_NAME_DOB + (1 - MRN_NAME_DOB) * name_quality), "mrn+name+dob agree", True
    if dob is _Agreement.agrees:
        return MRN_DOB, "mrn+dob agree", True
    if name is _Agreement.agrees and dob is _Agreement.weak:
        how = "transposed" if any(d == _transposed_or_none(patient.dob) for d in ids.dobs) else "misread"
        return _round(MRN_NAME_TRANSPOSED + 0.03 * name_quality), f"mrn+name agree, dob {how}", True
    if name is _Agreement.agrees:
        return _round(MRN_NAME + 0.05 * name_quality), "mrn+name agree", True
    score = MRN_TRANSPOSED_ONLY if dob is _Agreement.weak else MRN_ALONE
    return score, "mrn not corroborated", False


def _has_twin(patient: Patient, page_mrn: str, roster: Roster) -> bool:
    """Another patient with the same last-name key, born the same day, whose MRN the page's could
    be a misreading of (one digit off, or two neighbours swapped: twins often get consecutive
    MRNs): the DOB cannot tell them apart."""
    key, page = blocking_key(patient.last), normalize_mrn(page_mrn)
    same_day = roster.candidates((patient.last,), (patient.dob,), near_dobs=(patient.dob,))
    return any(
        normalize_mrn(p.mrn) != normalize_mrn(patient.mrn)
        and p.dob == patient.dob
        and blocking_key(p.last) == key
        and _one_slip_apart(normalize_mrn(p.mrn), page)
        for p in same_day
    )


def _one_slip_apart(a: str, b: str) -> bool:
    """Same length, and one digit differs or two neighbouring digits are swapped."""
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]])


def _one_mrn_misread(mrns: tuple[str, ...], roster: Roster) -> str | None:
    """The page's one MRN in the roster when each other MRN on it is that one misread."""
    found = [m for m in mrns if roster.by_mrn(m) is not None]
    if len(found) != 1:
        return None
    norm = normalize_mrn(found[0])
    return found[0] if all(m == found[0] or _ocr_misread(normalize_mrn(m), norm) for m in mrns) else None


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


def _dob_agreement(ids: Identifiers, dob: dt.date) -> _Agreement:
    """Exact: agrees; day and month swapped (when the page's format allows it), or one digit
    misread as OCR does: weak; anything else contradicts."""
    if not ids.dobs:
        return _Agreement.absent
    swapped = _transposed_or_none(dob)
    for d in ids.dobs:
        if (
            d != dob
            and not (d == swapped and d not in ids.fixed_dobs)
            and not _ocr_misread(_digits(d), _digits(dob))
        ):
            return _Agreement.contradicts
    return _Agreement.agrees if dob in ids.dobs else _Agreement.weak


def _sex_contradicts(sexes: tuple[str, ...], roster_sex: str) -> bool:
    """A sex printed on the page differs from the roster's (when the roster says M or F)."""
    known = roster_sex.strip()[:1].upper()
    return known in ("M", "F") and any(s != known for s in sexes)


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
    if any(_look_alike(c) for c in ranked[1:]):
        return PatientMatch(None, best, "look-alike in roster", candidates)
    return PatientMatch(ranked[0].patient.mrn, ranked[0].score, "name+dob agree", candidates)


def _fileable(c: ScoredCandidate) -> bool:
    """Whatever the configured threshold: names agree (not by initial), the DOB is exact or
    transposed and the sex (when printed) is the roster's; first names agreeing only as
    nicknames need the exact DOB and the same last name."""
    if c.name.nickname and (c.dob < DOB_EXACT - _EPS or c.name.last < NICKNAME_LAST - _EPS):
        return False
    return (
        c.dob >= DOB_TRANSPOSED - _EPS and _name_agrees(c.name, allow_initial=False) and not c.sex_contradicts
    )


def _look_alike(c: ScoredCandidate) -> bool:
    """Another patient the page could mean: the name agrees and the DOB is one error away."""
    return c.dob > 0 and _name_agrees(c.name, allow_initial=True) and not c.sex_contradicts


def _contradicted(ids: Identifiers, patient: Patient) -> bool:
    """Another name or DOB on the page (a second person?) disagrees with the best candidate."""
    name, _ = _name_agreement(ids.names, patient)
    return name is _Agreement.contradicts or _dob_agreement(ids, patient.dob) is _Agreement.contradicts


def _rank(ids: Identifiers, roster: Roster) -> list[ScoredCandidate]:
    """Blocked roster candidates scored on the page's names and DOBs, best first."""
    if not ids.names and not ids.dobs:
        return []
    blocking_names = tuple(dict.fromkeys(part for n in ids.names for part in (n.last, n.first) if part))
    swappable = [dob not in ids.fixed_dobs for dob in ids.dobs]
    blocking_dobs = tuple(
        dict.fromkeys(
            d for dob, swap in zip(ids.dobs, swappable, strict=True) for d in _with_swapped(dob, swap)
        )
    )
    near = tuple(
        dict.fromkeys(d for dob, swap in zip(ids.dobs, swappable, strict=True) for d in near_dates(dob, swap))
    )
    found = roster.candidates(blocking_names, blocking_dobs, near_dobs=near)
    scored = [score_candidate(ids, p) for p in found]
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
    dob = max((dob_similarity(d, patient.dob, d not in ids.fixed_dobs) for d in ids.dobs), default=0.0)
    veto = _sex_contradicts(ids.sexes, patient.sex)
    score = _name_points(name) + W_DOB * dob - (SEX_PENALTY if veto else 0.0)
    return ScoredCandidate(patient, _round(score), name, dob, veto)


def _name_points(sim: NameSimilarity) -> float:
    return W_LAST * _sharpen(sim.last) + W_FIRST * _sharpen(sim.first)


def _sharpen(similarity: float) -> float:
    """Stretch [0.5, 1] to [0, 1]: one OCR error costs little, a different name costs all."""
    return max(0.0, 2 * similarity - 1)


def _top(ranked: list[ScoredCandidate]) -> tuple[tuple[str, float], ...]:
    return tuple((s.patient.mrn, s.score) for s in ranked[:MAX_CANDIDATES])


# --- similarities -----------------------------------------------------------------------------------


def name_similarity(name: PersonName, patient: Patient) -> NameSimilarity:
    """Last- and first-name similarity of a page name to a patient, or to one of the patient's
    former names / aliases; the name read the other way round (first and last swapped) counts
    too, slightly discounted, and so does a last middle word taken as the first of two surnames
    ("Maria Garcia Lopez" against GARCIA LOPEZ)."""
    best = _name_similarity(name.last, name.first, name.middle, patient.last, patient.first)
    for alias in patient.aliases:
        other = _name_similarity(name.last, name.first, name.middle, alias.last, alias.first)
        best = max(best, other, key=_name_points)
    return best


@lru_cache(maxsize=1 << 16)  # scoring a block of a million-patient roster meets the same names often
def _name_similarity(
    page_last: str, page_first: str, page_middle: str, roster_last: str, roster_first: str
) -> NameSimilarity:
    last, first = _normalized(roster_last), _normalized(roster_first)
    readings = [page_last]
    middle = page_middle.split()[-1] if page_middle else ""
    if len(middle) > 1:
        readings.append(f"{middle} {page_last}")
    best = NameSimilarity(0.0, 0.0, False)
    for page_last_reading in readings:
        straight = NameSimilarity(
            last_name_similarity(page_last_reading, last),
            first_name_similarity(page_first, first),
            _initial_matches(page_first, first),
            _by_nickname(page_first, first),
        )
        swapped = NameSimilarity(
            SWAPPED_PENALTY * last_name_similarity(page_first, last),
            SWAPPED_PENALTY * first_name_similarity(page_last_reading, first),
            False,
            _by_nickname(page_last_reading, first),
        )
        best = max(best, straight, swapped, key=_name_points)
    return best


def _by_nickname(page: str, roster: str) -> bool:
    """The first names agree only as nicknames (not as spellings of one name)."""
    if not page or not roster:
        return False
    page_first, roster_first = page.split()[0], roster.split()[0]
    return is_nickname(page_first, roster_first) and _jw(page_first, roster_first) < NICKNAME_SIM


_normalized = lru_cache(maxsize=1 << 16)(normalize_name)


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


@lru_cache(maxsize=1 << 14)
def is_nickname(a: str, b: str) -> bool:
    """True when two different first names are one a nickname of the other (Bill and William) or
    both nicknames of one name (Bob and Rob), by the ``nicknames`` package's list."""
    if a == b or not a or not b:
        return False
    a, b = a.lower(), b.lower()
    if b in _NICKNAMES.nicknames_of(a) or a in _NICKNAMES.nicknames_of(b):
        return True
    return not _NICKNAMES.canonicals_of(a).isdisjoint(_NICKNAMES.canonicals_of(b))


def dob_similarity(page: dt.date, roster: dt.date, swappable: bool = True) -> float:
    """1 for the same date; less for day and month swapped (unless the page's format fixes them,
    ``swappable`` False) and for one error apart; 0 otherwise."""
    if page == roster:
        return DOB_EXACT
    if swappable and page == _transposed_or_none(roster):
        return DOB_TRANSPOSED
    if _one_error_apart(page, roster):
        return DOB_YEAR_OFF
    return 0.0


def _one_error_apart(a: dt.date, b: dt.date) -> bool:
    """One digit of MMDDYYYY differs, or the same day and month with the year off by one or 100."""
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) in (1, 100):
        return True
    return sum(x != y for x, y in zip(_digits(a), _digits(b), strict=True)) == 1


def _digits(d: dt.date) -> str:
    return f"{d.month:02d}{d.day:02d}{d.year:04d}"


def _ocr_misread(a: str, b: str) -> bool:
    """Two digit strings of one length differing in one place, by digits OCR confuses."""
    if len(a) != len(b):
        return False
    diff = [x + y for x, y in zip(a, b, strict=True) if x != y]
    return len(diff) == 1 and (diff[0] in _CONFUSED_PAIRS or diff[0][::-1] in _CONFUSED_PAIRS)


def near_dates(d: dt.date, swappable: bool = True) -> tuple[dt.date, ...]:
    """``d`` and the dates one likely error away: day and month swapped, a digit misread as one OCR
    confuses it with, the year off by one or by a century (the look-alike search's blocking)."""
    found = set(_with_swapped(d, swappable))
    text = _digits(d)
    for i, digit in enumerate(text):
        for other in _CONFUSABLE[digit]:
            changed = text[:i] + other + text[i + 1 :]
            found.update(_date_or_none(int(changed[4:]), int(changed[:2]), int(changed[2:4])))
    for years in (-100, -1, 1, 100):
        found.update(_date_or_none(d.year + years, d.month, d.day))
    return tuple(sorted(found))


def _date_or_none(year: int, month: int, day: int) -> tuple[dt.date, ...]:
    if not _YEARS[0] <= year <= _YEARS[1]:
        return ()
    try:
        return (dt.date(year, month, day),)
    except ValueError:
        return ()


def _transposed_or_none(d: dt.date) -> dt.date | None:
    if d.day > 12 or d.day == d.month:
        return None
    try:
        return dt.date(d.year, d.day, d.month)
    except ValueError:
        return None


def _with_swapped(d: dt.date, swappable: bool) -> tuple[dt.date, ...]:
    return (d, *_transposed(d)) if swappable else (d,)


def _transposed(d: dt.date) -> tuple[dt.date, ...]:
    swapped = _transposed_or_none(d)
    return () if swapped is None else (swapped,)


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.normalized_similarity(a, b))


def _round(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)
