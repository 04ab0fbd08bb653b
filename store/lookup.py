"""Finding a patient in the roster from what a clerk types: an MRN or a name (with a date of
birth, optionally). Used by the web app's search box and review queue; every lookup that
shows patients is recorded in the audit log."""

from __future__ import annotations

import datetime as dt
import re

from chartclerk.classify.models import Patient
from chartclerk.store.archive import Archive
from chartclerk.store.roster import normalize_name

__all__ = ["find_patients"]

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MRN = re.compile(r"[A-Za-z]{0,3}[-/]?\d[\d\-/]{2,}[A-Za-z]{0,2}")


def find_patients(archive: Archive, text: str, *, limit: int = 10) -> list[Patient]:
    """Roster patients matching ``text``: its MRN (leading zeros optional), or a last name
    (Soundex-blocked, then the typed names compared exactly, case and accents aside) with
    a first name and an ISO date of birth narrowing it when given. Audited as ``lookup``."""
    text = " ".join(text.split())[:200]
    found: list[Patient] = []
    if _MRN.fullmatch(text):
        patient = archive.roster.by_mrn(text)
        found = [patient] if patient is not None else []
    else:
        dobs: list[dt.date] = []
        for y, m, d in _DATE.findall(text):
            try:
                dobs.append(dt.date(int(y), int(m), int(d)))
            except ValueError:
                continue
        names = [normalize_name(w) for w in _DATE.sub(" ", text).replace(",", " ").split()]
        names = [n for n in names if len(n) >= 2 and n.isalpha()]
        if names:
            pool = archive.roster.candidates(tuple(names), tuple(dobs), limit=200)
            wanted = set(names)
            found = [
                p
                for p in pool
                if normalize_name(p.last) in wanted
                and (len(names) == 1 or normalize_name(p.first) in wanted)
                and (not dobs or p.dob in dobs)
            ][:limit]
    if found:
        archive.record_access("lookup", {"found": len(found)}, [p.mrn for p in found])
    return found
