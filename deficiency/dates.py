"""Dates as forms write them: 03/07/2026, 3/7/26, 2026-03-07, 07-MAR-2026, March 7, 2026."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["DATE", "find_dates", "labelled_date", "parse_date"]

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
    rf"|\d{{1,2}}[ \-]{_MON}[ \-,]*\d{{2,4}}|{_MON} \d{{1,2}},? \d{{4}})"
)
_DATE_RE = re.compile(DATE, re.IGNORECASE)


def parse_date(text: str) -> dt.date | None:
    """The first date in ``text``, or None."""
    m = _DATE_RE.search(text)
    return None if m is None else _to_date(m.group(0))


def find_dates(text: str) -> list[dt.date]:
    return [d for d in (_to_date(m.group(0)) for m in _DATE_RE.finditer(text)) if d is not None]


def labelled_date(text: str, labels: str) -> dt.date | None:
    """The date written after one of ``labels`` (a regex alternative), on the same line."""
    m = re.search(rf"(?:{labels})[^\n\d]{{0,25}}?({DATE})", text, re.IGNORECASE)
    return None if m is None else _to_date(m.group(1))


def _to_date(raw: str) -> dt.date | None:
    s = raw.strip().lower()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})", s):
            year = int(m[3])
            year += 2000 if year < 70 else 1900 if year < 100 else 0
            return dt.date(year, int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{1,2})[ \-]([a-z]+)\.?[ \-,]*(\d{2,4})", s):
            year = int(m[3])
            year += 2000 if year < 70 else 1900 if year < 100 else 0
            return dt.date(year, _MONTHS[m[2][:3]], int(m[1]))
        if m := re.fullmatch(r"([a-z]+)\.? (\d{1,2}),? (\d{4})", s):
            return dt.date(int(m[3]), _MONTHS[m[1][:3]], int(m[2]))
    except (ValueError, KeyError):
        return None
    return None
