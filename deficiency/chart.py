"""Deficiencies of a patient's chart as a whole (per admission, or a date range): the
documents it must hold (an H&P within 24 hours of admission, a discharge summary once the
record is due, a consent for each operation) and a consent dated after the procedure it
consents to. The limits come from ``DeficiencySettings`` (CMS defaults, 42 CFR 482.24(c),
482.22(c)(5), 482.51(b))."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chartclerk.deficiency.dates import find_dates, labelled_date
from chartclerk.deficiency.models import Finding
from chartclerk.settings import DeficiencySettings

__all__ = ["ChartDocument", "find_chart_deficiencies"]

_ADMIT = r"admission\s*date|date\s*of\s*admission|admit(?:ted)?(?:\s*date)?|admitted\s*on"
_DISCHARGE = r"discharge\s*date|date\s*of\s*discharge|discharged(?:\s*on)?"
_PROCEDURE = (
    r"date\s*of\s*(?:procedure|surgery|operation|service)"
    r"|(?:procedure|surgery|operation|operative)\s*date|DOS"
)
_SIGNED_DATE = r"date\s*signed|signed\s*on|date(?!\s*of\s*birth)"
_HP_DATE = _ADMIT + r"|date\s*of\s*(?:service|exam|examination|visit)|exam\s*date|date(?!\s*of\s*birth)"


@dataclass(frozen=True, slots=True)
class ChartDocument:
    id: int
    doc_type: str
    text: str
    archived: dt.date


def find_chart_deficiencies(
    docs: list[ChartDocument], settings: DeficiencySettings, today: dt.date
) -> tuple[Finding, ...]:
    """The chart's missing documents and late consents; each finding is attached to the
    document that shows the gap (the discharge summary of an admission without its H&P, ...)."""
    by_type: dict[str, list[ChartDocument]] = {}
    for d in docs:
        by_type.setdefault(d.doc_type, []).append(d)
    findings: list[Finding] = []
    hps = [(d, labelled_date(d.text, _HP_DATE)) for d in by_type.get("history_physical", [])]
    summaries = [
        (d, labelled_date(d.text, _ADMIT), labelled_date(d.text, _DISCHARGE))
        for d in by_type.get("discharge_summary", [])
    ]
    before = dt.timedelta(days=settings.history_physical_days_before)
    after = dt.timedelta(hours=settings.history_physical_hours_after)
    if settings.require_history_physical:
        for d, admitted, _ in summaries:
            if admitted is None:
                continue
            ok = [h for h, when in hps if when is not None and admitted - before <= when <= admitted + after]
            if not ok:
                findings.append(Finding(
                    "document_missing",
                    f"no history and physical within {settings.history_physical_days_before} days before or "
                    f"{settings.history_physical_hours_after} hours after the admission of "
                    f"{admitted.isoformat()}",
                    words=f"admission {admitted.isoformat()}", document_id=d.id, subject_date=admitted,
                ))  # fmt: skip
    if settings.require_discharge_summary:
        due = dt.timedelta(days=settings.record_complete_days)
        for h, admitted in hps:
            if admitted is None or today - admitted <= due:
                continue
            covered = any(
                a is not None and a - dt.timedelta(days=1) <= admitted <= (dis or a + due)
                for _, a, dis in summaries
            )
            if not covered:
                findings.append(Finding(
                    "document_missing",
                    f"no discharge summary for the admission of {admitted.isoformat()} (H&P on file; "
                    "the record "
                    f"is due {settings.record_complete_days} days after discharge)",
                    words=f"H&P dated {admitted.isoformat()}", document_id=h.id, subject_date=admitted,
                ))  # fmt: skip
    if settings.require_consent_for_operation:
        findings.extend(_consents(by_type, settings))
    return tuple(findings)


def _consents(by_type: dict[str, list[ChartDocument]], settings: DeficiencySettings) -> list[Finding]:
    found: list[Finding] = []
    consents = []
    for c in by_type.get("consent_form", []):
        when = labelled_date(c.text, _SIGNED_DATE)
        dates = find_dates(c.text)
        consents.append((c, when or (max(dates) if dates else None)))
    window = dt.timedelta(days=settings.consent_days_before)
    for op in by_type.get("operative_report", []):
        done = labelled_date(op.text, _PROCEDURE)
        if done is None:
            continue
        before = [c for c, when in consents if when is not None and done - window <= when <= done]
        if before:
            continue
        late = [(c, when) for c, when in consents if when is not None and done < when <= done + window]
        if late:
            for c, when in late:
                found.append(Finding(
                    "consent_after_procedure",
                    f"consent dated {when.isoformat()}, after the procedure of {done.isoformat()} "
                    f"(operative report, document {op.id})",
                    words=f"consent {when.isoformat()}; procedure {done.isoformat()}",
                    document_id=c.id, subject_date=done,
                ))  # fmt: skip
            continue
        found.append(Finding(
            "document_missing",
            f"operative report of {done.isoformat()} without a consent dated within "
            f"{settings.consent_days_before} days before it",
            words=f"procedure {done.isoformat()}", document_id=op.id, subject_date=done,
        ))  # fmt: skip
    return found
