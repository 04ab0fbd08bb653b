"""Deficiencies of one document, found on its pages: signature areas located from the words
and their boxes, judged on the page image (``ink.read_ink``); verbal and telephone orders;
"page x of y" numbering; the patient's name or MRN on every page of a multi-page document."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rapidfuzz import fuzz

from chartclerk.deficiency.dates import DATE
from chartclerk.deficiency.ink import PixelBox, find_rule_lines, read_ink
from chartclerk.deficiency.models import Box, Finding, InkReading, PageInput, PageWord, PatientInfo

__all__ = ["SignatureArea", "find_document_deficiencies", "find_signature_areas", "is_signature_label"]

_ANCHOR = re.compile(r"^(signature|signed|sign|sig|authenticated)[:.]?$", re.IGNORECASE)
_STOP = re.compile(
    r"^(date|dated|time|print|printed|name|title|witness|npi|id|relationship|credentials?|"
    r"date/time|license|dea)[:.]?$",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(r"^(date|dated|date/time)[:.]?$", re.IGNORECASE)
_TIME_LABEL = re.compile(r"^(time)[:.]?$", re.IGNORECASE)
_ESIGN = re.compile(r"electronically\s+(?:signed|authenticated)|/s/|e-signed|digitally signed", re.IGNORECASE)
_ON_FILE = re.compile(r"on\s+file\b", re.IGNORECASE)
_DATE_RE = re.compile(DATE, re.IGNORECASE)
_TIME_RE = re.compile(r"\b\d{1,2}:\d{2}\b")
_VERBAL = re.compile(
    r"(?<![A-Za-z])(?:V\.\s?O\.|T\.\s?O\.|VORB|TORB|VO/RB|TO/RB)(?![A-Za-z])"
    r"|\b(?:verbal|telephone|phone)\s+order\b",
    re.IGNORECASE,
)
# "Page x of y" as OCR reads a small footer: a lone "1" as l, I or |; "of" as "0f" or "o0f"
# and glued to the numbers ("p.20f4", "lof5", "p.4o0f5"); stray dots, dashes, colons,
# underscores and quotes between the parts ("p..3 of 5", "p. 2-of 4", "p:5 of 5", "Page '5").
_PAGE_SEP = r"[\s.,:;_\-'\"‘’“”]*"
_PAGE_OF = re.compile(
    rf"(?<![A-Za-z])(?:page|pg|p)(?![A-Za-z]){_PAGE_SEP}([0-9Il|!]{{1,3}}){_PAGE_SEP}(?:[o0]{{1,2}}f|/)"
    rf"{_PAGE_SEP}([0-9Il|!]{{1,3}})(?![0-9])",
    re.IGNORECASE,
)
_ID_LABEL = re.compile(
    r"\b(?:(?:MRN|Med(?:ical)?\s*Rec(?:ord)?(?:\s*(?:#|No\.?|Number))?|Chart\s*#|Patient\s*ID)\s*[:#]?\s*\d{4}"
    r"|(?:Patient(?:\s*Name)?|Pt(?:\s*Name)?|Name)\s*[:#]\s*[A-Za-z])",
    re.IGNORECASE,
)
_PRINTED_CONFIDENCE = 80.0  # handwriting OCR'd as words reads below this (printed forms: 90+)
# Handwritten dates are shorter than signatures: "3/14/26" is 0.5-1.2 in of stroke.
_DATED_STROKE_IN = 0.45
_DATED_EXTENT_IN = 0.3


@dataclass(frozen=True, slots=True)
class SignatureArea:
    """A place on a page meant for a signature: its label words, the region judged (page
    pixels and page fractions) and what the ink analysis (or the page's own text) said."""

    page: int
    label: str
    anchor: PageWord
    region: Box
    reading: InkReading | None
    typed: str  # a digital signature's words ("Electronically signed by ..."), else ""

    @property
    def signed(self) -> bool:
        return bool(self.typed) or (self.reading is not None and self.reading.verdict == "signed")

    @property
    def unsure(self) -> bool:
        return not self.typed and (self.reading is None or self.reading.verdict == "unsure")

    def seen(self) -> str:
        if self.typed:
            return f"typed signature: {self.typed}"
        if self.reading is None:
            return "no page image to look at"
        return self.reading.describe()


def find_document_deficiencies(
    pages: Iterable[PageInput], patient: PatientInfo | None, *, document_id: int | None = None
) -> tuple[Finding, ...]:
    """Every per-document deficiency of these pages (in page order)."""
    pages = list(pages)
    findings: list[Finding] = []
    for page in pages:
        areas = find_signature_areas(page)
        used: set[int] = set()
        findings.extend(_verbal_orders(page, areas, used))
        for i, area in enumerate(areas):
            if i in used:
                continue
            findings.extend(_signature_findings(page, area))
    findings.extend(_missing_pages(pages))
    if len(pages) > 1:
        findings.extend(_missing_identifiers(pages, patient))
    if document_id is not None:
        findings = [_with_document(f, document_id) for f in findings]
    return tuple(findings)


def _with_document(f: Finding, document_id: int) -> Finding:
    return replace(f, document_id=document_id)


# -- page geometry ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Geometry:
    width: int
    height: int
    dpi: float
    text_h: float  # median word height, pixels

    def px(self, box: Box) -> PixelBox:
        return (
            round(box.left * self.width),
            round(box.top * self.height),
            round(box.right * self.width),
            round(box.bottom * self.height),
        )

    def frac(self, box: PixelBox) -> Box:
        x0, y0, x1, y1 = box
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(self.width, x1), min(self.height, y1)
        return Box(
            x0 / self.width, y0 / self.height, max(0, x1 - x0) / self.width, max(0, y1 - y0) / self.height
        )


def _geometry(page: PageInput) -> _Geometry:
    if page.image is not None:
        height, width = page.image.shape[:2]
        dpi = page.dpi
    else:  # letter at the working resolution: regions are still drawn, nothing is measured
        dpi = page.dpi
        width, height = round(8.5 * dpi), round(11 * dpi)
    heights = [w.box.height * height for w in page.words if w.text.strip("_") and w.box.height > 0]
    text_h = statistics.median(heights) if heights else 0.12 * dpi
    return _Geometry(width, height, dpi, max(text_h, 0.06 * dpi))


def _lines(words: tuple[PageWord, ...]) -> list[list[PageWord]]:
    """Words grouped into lines, left to right: a word joins the line whose words' median
    centre lies within half a word height of its own centre. The line is judged by the median
    of its words, not by its last word: a mark OCR read as one tall word (a staple's shadow, a
    stroke down the margin) joins a line but must not bridge it to the next one, else two
    stacked labels read as one line, one label is taken as part of the other and one of the
    two signature areas is lost."""
    lines: list[list[PageWord]] = []
    refs: list[tuple[float, float]] = []  # each line's median centre and height, kept up to date
    for w in sorted(words, key=lambda w: (w.box.top + w.box.height / 2, w.box.left)):
        centre = w.box.top + w.box.height / 2
        for i, line in enumerate(lines):
            ref_centre, ref_height = refs[i]
            if abs(ref_centre - centre) <= max(ref_height, w.box.height) * 0.5:
                line.append(w)
                refs[i] = (
                    statistics.median(v.box.top + v.box.height / 2 for v in line),
                    statistics.median(v.box.height for v in line),
                )
                break
        else:
            lines.append([w])
            refs.append((centre, w.box.height))
    return [sorted(line, key=lambda w: w.box.left) for line in lines]


def _printed(word: PageWord, geo: _Geometry) -> bool:
    """A printed word (masked before looking for ink): read confidently, not much taller than
    the page's text, mostly letters or digits, or a run of underscores."""
    text = word.text.strip()
    if not text:
        return False
    if set(text) <= set("_-—."):
        return True
    if word.confidence is not None and word.confidence < _PRINTED_CONFIDENCE:
        return False
    if word.box.height * geo.height > 1.7 * geo.text_h:
        return False
    alnum = sum(c.isalnum() for c in text)
    return alnum >= 0.6 * len(text)


# -- signature areas --------------------------------------------------------------------------------


def find_signature_areas(page: PageInput) -> list[SignatureArea]:
    """The page's signature areas, each judged."""
    geo = _geometry(page)
    lines = _lines(page.words)
    printed = [geo.px(w.box) for w in page.words if _printed(w, geo)]
    areas: list[SignatureArea] = []
    for line in lines:
        for wi, word in enumerate(line):
            if not _is_anchor(word.text):
                continue
            if any(_is_anchor(w.text) for w in line[wi + 1 : wi + 4]):
                continue  # "Authenticated by (signature):" is one label: its last anchor word
            following = " ".join(w.text for w in line[wi + 1 : wi + 3])
            if _ON_FILE.match(following):
                continue  # "Signature on file": a statement (or a stamp's words), not a place to sign
            label_words = [w.text for w in line[max(0, wi - 2) : wi + 1]]
            after = line[wi + 1 :]
            stop = next((w for w in after if _is_stop_label(w, word)), None)
            typed = _typed_signature(line, after, stop)
            first = line[max(0, wi - 2)]  # the label's first word ("Physician" of "Physician signature")
            region = _signature_region(page, geo, word, stop, label_left=first.box.left)
            reading = None
            if page.image is not None and not typed:
                reading = read_ink(page.image, region, geo.dpi, printed)
                if reading.verdict != "stamped" and _stamp_words(page, geo, region):
                    reading = replace(reading, verdict="stamped")
            areas.append(
                SignatureArea(page.number, " ".join(label_words), word, geo.frac(region), reading, typed)
            )
    return areas


_STAMP_WORDS = frozenset(
    ("RECEIVED", "COPY", "FAXED", "SCANNED", "ENTERED", "FILED", "PAID", "VOID", "REVIEWED", "POSTED", "FILE")
)


def _stamp_words(page: PageInput, geo: _Geometry, region: PixelBox) -> bool:
    """A rubber stamp's words ("RECEIVED", "COPY", "SIGNATURE ON FILE") read in the region, in
    capitals: a stamp whose frame was not found (or has none)."""
    x0, y0, x1, y1 = region
    for w in page.words:
        wx0, wy0, wx1, wy1 = geo.px(w.box)
        core = _label_core(w.text)
        if (
            core.isupper()
            and core in _STAMP_WORDS
            and x0 <= (wx0 + wx1) / 2 <= x1
            and y0 <= (wy0 + wy1) / 2 <= y1
        ):
            return True
    return False


def _is_stop_label(word: PageWord, label: PageWord) -> bool:
    """A printed label ending the field of ``label`` ("Date:", "Print name"); not handwriting
    that OCR read as such a word ("id" in a signature): read with low confidence and much
    taller than the label itself. (A printed label glued to a line's remains, "_-Date/Time:.-",
    also reads with low confidence, but at the label's height.)"""
    if not _STOP.match(_label_core(word.text)):
        return False
    unsure = word.confidence is not None and word.confidence < _PRINTED_CONFIDENCE
    return not (unsure and word.box.height > 1.7 * label.box.height)


def _label_core(text: str) -> str:
    """A label word without the line OCR glues to it ("Date:_____" -> "Date")."""
    return text.strip().rstrip("_.:-—=|").lstrip("_-—(")


def is_signature_label(text: str) -> bool:
    """A word that makes a signature area (only pages holding one need their image looked at)."""
    return _is_anchor(text)


def _is_anchor(text: str) -> bool:
    """A signature label word, as OCR reads it: glued to its line ("signature:_____"), or with
    a letter misread ("Sionature") or read as two ("signatiire", "sigriature": u as ii, n as ri)."""
    core = _label_core(text)
    if _ANCHOR.match(core):
        return True
    return 8 <= len(core) <= 10 and fuzz.ratio(core.lower(), "signature") >= 84


def _typed_signature(line: list[PageWord], after: list[PageWord], stop: PageWord | None) -> str:
    """A digital signature written as text on the label's line ("/s/ J. Smith, MD",
    "Electronically signed by ...")."""
    if not _ESIGN.search(" ".join(w.text for w in line)):
        return ""
    field = " ".join(w.text for w in after if stop is None or w.box.left < stop.box.left).strip()
    return field or "electronically signed"


def _signature_region(
    page: PageInput,
    geo: _Geometry,
    anchor: PageWord,
    stop: PageWord | None,
    reach: float = 0.55,
    label_left: float | None = None,
) -> PixelBox:
    """The region where the signature (or a date) goes: on the ruled line to the right of the
    label, on a line just above it (label printed under the line), or else to the right of
    the label. ``reach``: how far right a field may run without a next label, in page widths."""
    ax0, ay0, ax1, ay1 = geo.px(anchor.box)
    th = geo.text_h
    right_end = (
        round(stop.box.left * geo.width - 0.2 * th)
        if stop
        else min(round(ax0 + reach * geo.width), round(0.98 * geo.width))
    )
    if page.image is not None:
        band = (round(ax1 + 0.1 * th), round(ay0 + 0.3 * th), right_end, round(ay1 + 0.9 * th))
        rules = find_rule_lines(page.image, band, geo.dpi) if band[2] > band[0] else []
        if rules:
            x0, y0, x1, y1 = max(rules, key=lambda r: r[2] - r[0])
            return (x0, round(y0 - 3.4 * th), x1, round(y1 + 1.0 * th))
        lx0 = round(label_left * geo.width) if label_left is not None else ax0
        above = (
            round(lx0 - 1.0 * th),
            round(ay0 - 2.0 * th),
            round(lx0 + max(ax1 - lx0, 2.5 * geo.dpi)),
            ay0,
        )
        rules = [r for r in find_rule_lines(page.image, above, geo.dpi) if r[0] <= ax1 and r[2] >= lx0]
        if rules:
            x0, y0, x1, y1 = max(rules, key=lambda r: r[3])
            return (x0, round(y0 - 3.4 * th), x1, min(round(y1 + 0.5 * th), ay0 - 1))
    return (round(ax1 + 0.2 * th), round(ay0 - 1.8 * th), right_end, round(ay1 + 0.9 * th))


def _signature_findings(page: PageInput, area: SignatureArea) -> list[Finding]:
    if area.reading is None and not area.typed:
        if page.text_source == "file":
            return [
                Finding(
                    "signature_missing",
                    f"no signature on the digital page after '{area.label}' (no typed or electronic "
                    "signature, and the page could not be looked at)",
                    area.page,
                    area.region,
                    area.label,
                    sure=False,
                )
            ]
        return []
    if area.reading is not None and area.reading.verdict in ("unsigned", "stamped", "unsure"):
        verdict = area.reading.verdict
        detail = {
            "unsigned": f"signature area '{area.label}' holds no handwriting",
            "stamped": f"signature area '{area.label}' holds a stamp, not a handwritten signature",
            "unsure": f"signature area '{area.label}' holds a little ink; unsure whether it is a signature",
        }[verdict]
        return [
            Finding(
                "signature_missing",
                f"{detail} ({area.seen()})",
                area.page,
                area.region,
                area.label,
                sure=verdict != "unsure",
            )
        ]
    return _undated(page, area)


def _undated(page: PageInput, area: SignatureArea) -> list[Finding]:
    """A signed area with no date near it (and no time where the form asks for one)."""
    geo = _geometry(page)
    region = area.region
    near_top = region.top - 0.5 * geo.text_h / geo.height
    near_bottom = max(region.bottom, area.anchor.box.bottom) + 1.8 * geo.text_h / geo.height
    near_left = min(region.left, area.anchor.box.left) - 0.3
    near = [
        w for w in page.words
        if near_top <= w.box.top + w.box.height / 2 <= near_bottom and w.box.right >= near_left
    ]  # fmt: skip
    text = " ".join(w.text for w in sorted(near, key=lambda w: (round(w.box.top, 2), w.box.left)))
    dated = bool(_DATE_RE.search(text))
    timed = bool(_TIME_RE.search(text))
    date_labels = [w for w in near if _DATE_LABEL.match(_label_core(w.text))]
    time_labels = [w for w in near if _TIME_LABEL.match(_label_core(w.text))]
    if page.image is not None:
        if not dated:
            dated = any(_field_written(page, geo, w) for w in date_labels)
        if time_labels and not timed:
            timed = any(_field_written(page, geo, w) for w in time_labels)
    missing = [] if dated else ["date"]
    if time_labels and not timed:
        missing.append("time")
    if not missing:
        return []
    seen = " ".join(w.text for w in date_labels + time_labels) or "no date label or date near the signature"
    return [
        Finding(
            "signature_undated",
            f"signed area '{area.label}' has no {' or '.join(missing)} ({area.seen()})",
            area.page, region, seen, sure=page.image is not None or dated,
        )
    ]  # fmt: skip


def _field_written(page: PageInput, geo: _Geometry, label: PageWord) -> bool:
    """Is the field of this label (a date, a time) written in by hand?"""
    assert page.image is not None
    region = _signature_region(page, geo, label, None, reach=0.25)
    x0, y0, x1, y1 = region
    for w in page.words:  # a date OCR read as words (not a date, else it would count already)
        wx0, wy0, wx1, wy1 = geo.px(w.box)
        inside = x0 <= (wx0 + wx1) / 2 <= x1 and y0 <= (wy0 + wy1) / 2 <= y1 and w is not label
        if inside and sum(c.isalnum() for c in w.text) >= 2 and not _STOP.match(w.text.strip()):
            return True
    printed = [geo.px(w.box) for w in page.words if _printed(w, geo)]
    reading = read_ink(page.image, region, geo.dpi, printed)
    return reading.verdict != "stamped" and (
        reading.stroke_inches >= _DATED_STROKE_IN and reading.extent_inches >= _DATED_EXTENT_IN
    )


# -- verbal and telephone orders ---------------------------------------------------------------------


def _verbal_orders(page: PageInput, areas: list[SignatureArea], used: set[int]) -> list[Finding]:
    geo = _geometry(page)
    found: list[Finding] = []
    for line in _lines(page.words):
        text = " ".join(w.text for w in line)
        m = _VERBAL.search(text)
        if m is None:
            continue
        top = min(w.box.top for w in line)
        bottom = max(w.box.bottom for w in line)
        reach = bottom + 5 * geo.text_h / geo.height
        linked = [
            i for i, a in enumerate(areas)
            if top - geo.text_h / geo.height <= a.anchor.box.top <= reach
        ]  # fmt: skip
        used.update(linked)
        if any(areas[i].signed for i in linked):
            continue
        line_box = Box(
            min(w.box.left for w in line), top,
            max(w.box.right for w in line) - min(w.box.left for w in line),
            bottom - top,
        )  # fmt: skip
        region = line_box
        if linked:
            a = areas[linked[0]].region
            left, up = min(line_box.left, a.left), min(line_box.top, a.top)
            region = Box(left, up, max(line_box.right, a.right) - left, max(line_box.bottom, a.bottom) - up)
        seen = "; ".join(areas[i].seen() for i in linked) or "no signature area near the order"
        unsure = any(areas[i].unsure for i in linked)
        found.append(
            Finding(
                "verbal_order_unauthenticated",
                f"'{m.group(0)}' order without the prescriber's signature ({seen})",
                page.number,
                region,
                text[:200],
                sure=not unsure,
            )
        )
    return found


# -- page numbering and identifiers -----------------------------------------------------------------


def _missing_pages(pages: list[PageInput]) -> list[Finding]:
    series: dict[int, dict[int, tuple[PageInput, str]]] = {}
    for page in pages:
        for m in _PAGE_OF.finditer(page.text):
            x, y = _page_number(m.group(1)), _page_number(m.group(2))
            if 1 <= x <= y <= 500:
                series.setdefault(y, {}).setdefault(x, (page, m.group(0)))
    found = []
    for total, seen in sorted(series.items()):
        if len(seen) < 2 and total > len(pages) + 20:
            continue  # a lone "page 3 of 90" in a letter: not this document's numbering
        missing = [n for n in range(1, total + 1) if n not in seen and not _unread_page_fits(n, seen, pages)]
        if not missing:
            continue
        before = max((n for n in seen if n < missing[0]), default=min(seen))
        page, words = seen[before]
        region = _words_box(page, words)
        found.append(
            Finding(
                "pages_missing",
                f"numbered {total} pages; page{'s' if len(missing) > 1 else ''} {_ranges(missing)} "
                f"not in this document (seen: {_ranges(sorted(seen))})",
                page.number,
                region,
                words,
            )
        )
    return found


def _unread_page_fits(n: int, seen: dict[int, tuple[PageInput, str]], pages: list[PageInput]) -> bool:
    """Page number ``n`` was not read, but the document has as many pages whose number was not
    read (a smudged footer) where the unread numbers around ``n`` would stand."""
    numbered = {page.number for page, _ in seen.values()}
    lo = max((k for k in seen if k < n), default=0)
    hi = min((k for k in seen if k > n), default=max(seen) + (n - max(seen)) + len(pages))
    first = seen[lo][0].number if lo else 0
    last = seen[hi][0].number if hi in seen else len(pages) + 1
    slots = [p.number for p in pages if p.number not in numbered and first < p.number < last]
    gap = (hi - lo - 1) if hi in seen else n - lo
    return len(slots) >= gap


def _page_number(raw: str) -> int:
    return int(re.sub(r"[IiLl|!]", "1", raw))


def _words_box(page: PageInput, phrase: str) -> Box | None:
    """The box of the words that read ``phrase`` on the page (the first run that matches)."""
    parts = phrase.split()
    words = [w for w in page.words]
    for i in range(len(words)):
        run = words[i : i + len(parts)]
        if [w.text.lower() for w in run] == [p.lower() for p in parts]:
            left, top = min(w.box.left for w in run), min(w.box.top for w in run)
            return Box(left, top, max(w.box.right for w in run) - left, max(w.box.bottom for w in run) - top)
    first = next((w for w in words if parts and parts[0].lower() in w.text.lower()), None)
    return first.box if first else None


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    for n in numbers:
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def _missing_identifiers(pages: list[PageInput], patient: PatientInfo | None) -> list[Finding]:
    found = []
    for page in pages:
        if not page.text.strip():
            continue  # a blank back side is not a loose page
        if patient is not None and _names_patient(page.text, patient):
            continue
        if patient is None and _ID_LABEL.search(page.text):
            continue
        who = "the patient's name or MRN" if patient is not None else "any patient name or MRN label"
        top = Box(0.0, 0.0, 1.0, 0.15)
        found.append(
            Finding(
                "identifier_missing",
                f"page {page.number} of {len(pages)} carries no {who}: a loose page could be misfiled",
                page.number,
                top,
                " ".join(page.text.split()[:12]),
            )
        )
    return found


def _names_patient(text: str, patient: PatientInfo) -> bool:
    digits = re.sub(r"\D", "", patient.mrn).lstrip("0")
    if digits and len(digits) >= 4:
        for token in re.findall(r"[0-9][0-9 \-]{3,}[0-9]", text):
            if re.sub(r"\D", "", token).lstrip("0") == digits:
                return True
    last = patient.last.upper()
    parts = [p for p in re.split(r"[\s\-']+", last) if len(p) >= 2]
    words = re.findall(r"[A-Za-z][A-Za-z'\-]+", text)
    upper = [w.upper() for w in words]
    for part in parts:
        if part in upper:
            return True
        if len(part) >= 5 and any(fuzz.ratio(part, w) >= 85 for w in upper if abs(len(w) - len(part)) <= 1):
            return True
    return False
