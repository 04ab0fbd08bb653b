"""Identifier search through OCR look-alikes, on held-out scans read by real tesseract.

    .venv/bin/python bench/findability.py [--pages 80] [--seed 15] [--exact-only]

Generates its own held-out family (not used by the tests): pages from fictional offices
carrying three printed identifiers each (accession, claim, member, policy, order,
authorization, specimen and invoice numbers: letters and digits mixed, long digit runs,
hyphenated codes, 6 to 15 characters, drawn from look-alike-rich alphabets), in fonts the
tests do not use (condensed, narrow, mono, bold), 8.5 to 11 pt, at 200 or 300 dpi, with
half the pages bitonal, some faxed at 200 x 100 dpi, speckle, blur and up to 2 degrees of
skew. A third of the pages also print a near-miss sibling of a code on another page (one
character changed to a non-look-alike), the wrong document a folded match could find.

Every page goes through the real pipeline (``pipeline.ingest_files``: deskew, tesseract,
archive; the document type is fixed to skip the classifier), then every printed code is
searched with ``Archive.search`` (the call behind the CLI, the JSON API and the web
search), limit 5. Reported: how many codes came back with their document in the top 5
(and first), how many were read exactly by OCR, and precision: of the hits found only
through look-alike folding or one edit more, how many were the wrong document.
``--exact-only`` also reports what plain word search finds (the look-alike tiers off).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz import fuzz, process

from chartclerk import assemble, pipeline
from chartclerk.classify import Classification
from chartclerk.settings import load_settings
from chartclerk.store import Archive
from chartclerk.store import search as search_module
from chartclerk.store.idents import fold
from chartclerk.tests.scans import write_pdf
from chartclerk.workers import make_pool

_TT = Path("/usr/share/fonts/truetype")
FONTS = (  # none of them is in chartclerk.classify.training.render.FONTS (the tests' fonts)
    _TT / "dejavu/DejaVuSansCondensed.ttf",
    _TT / "dejavu/DejaVuSerifCondensed.ttf",
    _TT / "dejavu/DejaVuSansMono.ttf",
    _TT / "liberation/LiberationSansNarrow-Regular.ttf",
    _TT / "liberation/LiberationMono-Bold.ttf",
    _TT / "dejavu/DejaVuSansCondensed-Bold.ttf",
)
LABELS = ("Accession No.", "Claim Number", "Member ID", "Policy #", "Order No.", "Authorization",
          "Specimen ID", "Invoice", "Ref. No.", "Encounter")  # fmt: skip
OFFICES = ("Bramblewood Diagnostics", "Northgate Imaging Partners", "Saltmarsh Family Practice",
           "Quillfeather Orthopedics", "Juniper Ridge Laboratories", "Oakhaven Benefits Group")  # fmt: skip
FILLER = (
    "Please retain this notice for your records.",
    "Results were reviewed by the attending provider.",
    "Questions about this statement may be directed to our billing office.",
    "The specimen was received in satisfactory condition.",
    "Coverage is subject to plan terms.",
    "This request was processed on the date shown below.",
    "Contact us within thirty days.",
)
HEADINGS = (
    "LABORATORY SERVICES REPORT",
    "EXPLANATION OF BENEFITS",
    "AUTHORIZATION NOTICE",
    "STATEMENT",
    "SPECIMEN DISPOSITION",
    "BILLING SUMMARY",
    "ORDER CONFIRMATION",
    "DISCHARGE INSTRUCTIONS",
)
LOOKALIKE = "0ODQ1Il75S8B32Z6G"
PLAIN = "ACEFHJKLMNPRTUVWXY49"


def make_code(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:  # mixed, look-alike rich
        n = rng.randint(6, 12)
        chars = [rng.choice(LOOKALIKE.upper().replace("L", "") + PLAIN) for _ in range(n)]
        chars[rng.randrange(n)] = rng.choice("0123456789")
        return "".join(chars)
    if kind == 1:  # prefix letters and digits
        return "".join(rng.choice("ABCDEGHKMOPRSTZ") for _ in range(rng.randint(2, 3))) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(6, 9))
        )
    if kind == 2:  # a long digit run
        return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(8, 11)))
    return (  # hyphenated
        "".join(rng.choice("ABDGOQSZ") for _ in range(2))
        + "-"
        + "".join(rng.choice("0123456789") for _ in range(4))
        + "-"
        + "".join(rng.choice("0123456789SOBZ") for _ in range(rng.randint(4, 6)))
    )


def sibling(code: str, rng: random.Random) -> str:
    """The code with one character changed to one that no look-alike class holds."""
    positions = [i for i, c in enumerate(code) if c != "-"]
    i = rng.choice(positions)
    choices = [c for c in "4A9KXH" if fold(c) != fold(code[i])]
    return code[:i] + rng.choice(choices) + code[i + 1 :]


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    codes: tuple[str, ...]
    lines: tuple[str, ...]
    font: Path
    points: float
    dpi: int
    bitonal: bool
    fax: bool
    noise: float
    blur: int
    skew: float


def make_pages(n: int, seed: int) -> list[Page]:
    rng = random.Random(seed)
    pages: list[Page] = []
    for i in range(n):
        codes = tuple(make_code(rng) for _ in range(3))
        lines = [rng.choice(OFFICES), rng.choice(HEADINGS), rng.choice(FILLER)]
        for code in codes:
            label = rng.choice(LABELS)
            lines.append(
                rng.choice(
                    (f"{label}: {code}", f"{label} {code}  Date 0{rng.randint(1, 9)}/1{rng.randint(0, 9)}/26")
                )
            )
            lines.append(rng.choice(FILLER))
        if i % 3 == 2 and pages:
            other = rng.choice(pages)
            lines.append(f"Prior reference: {sibling(rng.choice(other.codes), rng)}")
        pages.append(
            Page(
                name=f"held-{i:04d}.pdf",
                codes=codes,
                lines=tuple(lines),
                font=rng.choice(FONTS),
                points=rng.choice((8.5, 9.0, 10.0, 11.0)),
                dpi=rng.choice((200, 300)),
                bitonal=i % 2 == 0,
                fax=i % 6 == 0,
                noise=rng.choice((0.0, 0.001, 0.003)),
                blur=rng.choice((0, 0, 3)),
                skew=round(rng.uniform(-2.0, 2.0), 2),
            )
        )
    return pages


def render(page: Page, seed: int) -> np.ndarray:
    width, height = int(8.5 * page.dpi), int(11 * page.dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(page.font), round(page.points * page.dpi / 72))
    y = page.dpi
    step = round(page.points * page.dpi / 72 * 2.0)
    for line in page.lines:
        draw.text((page.dpi, y), line, fill=0, font=font)
        y += step
    out = img.rotate(page.skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
    arr = np.asarray(out, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    if page.blur:
        import cv2

        arr = np.asarray(cv2.GaussianBlur(arr, (page.blur, page.blur), 0), dtype=np.uint8)
    if page.fax:  # 200 x 100 dpi: every other row, doubled back
        arr = np.repeat(arr[::2], 2, axis=0)[: arr.shape[0]]
    if page.noise:
        hit = rng.random(arr.shape) < page.noise
        arr = np.where(hit, np.where(rng.random(arr.shape) < 0.5, 0, 255), arr).astype(np.uint8)
    if page.bitonal:
        arr = np.where(arr < rng.integers(110, 170), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=80)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--exact-only", action="store_true", help="also report plain word search")
    parser.add_argument("--verbose", action="store_true", help="print each miss (code and its reading)")
    args = parser.parse_args()
    pages = make_pages(args.pages, args.seed)
    with tempfile.TemporaryDirectory(prefix="chartclerk-findability-") as tmp:
        work = Path(tmp)
        (work / "scans").mkdir()
        config = work / "config.yaml"
        config.write_text(
            f"archive: {work / 'archive'}\ninbox: {work / 'inbox'}\nworkers: 2\n", encoding="utf-8"
        )
        settings = load_settings(config)
        for i, page in enumerate(pages):
            write_pdf(work / "scans" / page.name, [render(page, args.seed + i)], dpi=page.dpi)
        with Archive.open(settings) as archive:
            start = time.perf_counter()
            with (
                mock.patch.object(
                    assemble, "classify_document", lambda text, s: Classification("other", None, 1.0)
                ),
                make_pool(2) as pool,
            ):
                pipeline.ingest_files([work / "scans"], settings, archive, pool)
            seconds = time.perf_counter() - start
            docs = {d["source"]: d["id"] for d in archive.list_documents()}
            texts = {d: archive.get_document(d, with_text=True) for d in docs.values()}
            bitonal, faxed = sum(p.bitonal for p in pages), sum(p.fax for p in pages)
            print(f"pages: {len(pages)} ({bitonal} bitonal, {faxed} "
                  f"faxed 200x100), read by tesseract through the pipeline in {seconds:.0f} s")  # fmt: skip
            report(archive, pages, docs, texts, "look-alike search", args.verbose)
            if args.exact_only:
                with mock.patch.object(search_module, "_is_code", lambda term: False):
                    report(archive, pages, docs, texts, "plain word search", False)


def _page_text(doc: dict[str, object]) -> str:
    return " ".join(str(p.get("text", "")) for p in doc.get("pages", []))  # type: ignore[attr-defined]


def report(
    archive: Archive,
    pages: list[Page],
    docs: dict[str, int],
    texts: dict[int, dict[str, object]],
    title: str,
    verbose: bool,
) -> None:
    found = first = read_exactly = 0
    folded_hits = folded_wrong = 0
    by_kind: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    wrong_tier: Counter[str] = Counter()
    latencies: list[float] = []
    total = 0
    for page in pages:
        target = docs.get(page.name)
        page_text = _page_text(texts[target]) if target is not None else ""
        for code in page.codes:
            total += 1
            kind = "bitonal" if page.bitonal else "grey"
            by_kind[kind] += 1
            read_exactly += code.replace("-", "") in page_text.replace("-", "")
            start = time.perf_counter()
            hits = archive.search(code, limit=5)
            latencies.append(time.perf_counter() - start)
            ids = [h.document_id for h in hits]
            if target in ids:
                found += 1
                first += ids[0] == target
            else:
                missed[kind] += 1
                if verbose:
                    near = process.extractOne(code, page_text.split(), scorer=fuzz.ratio)
                    read = near[0] if near else None
                    print(f"  missed {code}, read {read!r} ({page.font.stem}, {page.dpi} dpi, "
                          f"bitonal {page.bitonal}, fax {page.fax})")  # fmt: skip
            for hit in hits:
                marked = hit.snippet.split("[", 1)[-1].split("]", 1)[0].replace("-", "").lower()
                if marked != code.replace("-", "").lower():
                    folded_hits += 1
                    folded_wrong += hit.document_id != target
                    tier = (
                        "look-alike"
                        if fold(marked.replace(" ", "")) == fold(code.replace("-", ""))
                        else "one edit"
                    )
                    by_tier[tier] += 1
                    wrong_tier[tier] += hit.document_id != target
                    if verbose and hit.document_id != target:
                        print(f"  wrong document for {code}: {hit.snippet!r}")
    latencies.sort()
    grey, bitonal = by_kind["grey"], by_kind["bitonal"]
    print(f"\n{title}: {total} printed identifiers ({grey} on grey pages, {bitonal} bitonal)")
    print(f"  read exactly by OCR: {read_exactly}/{total} ({100 * read_exactly / total:.1f}%)")
    print(f"  document in top 5: {found}/{total} ({100 * found / total:.1f}%), first: {first}/{total}; "
          f"missed on grey pages {missed['grey']}, on bitonal pages {missed['bitonal']}")  # fmt: skip
    precision = 1 - folded_wrong / folded_hits if folded_hits else 1.0
    print(f"  hits found through look-alikes or one edit: {folded_hits}, wrong document {folded_wrong} "
          f"(precision {precision:.3f})")  # fmt: skip
    for tier in ("look-alike", "one edit"):
        print(f"    {tier}: {by_tier[tier]} hits, wrong document {wrong_tier[tier]}")
    median, slowest = 1000 * latencies[len(latencies) // 2], 1000 * latencies[-1]
    print(f"  search time: median {median:.1f} ms, max {slowest:.1f} ms")


if __name__ == "__main__":
    main()
