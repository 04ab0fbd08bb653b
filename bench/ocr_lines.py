"""What erasing long thin lines before OCR does (``ocr.prepare.erase_thin_lines``): the same
pages read by the OCR stage with and without it, in this process, one after the other.

    .venv/bin/python bench/ocr_lines.py [--pages 30] [--seed 1015]

Two held-out families, neither used by the tests: the findability benchmark's pages (printed
identifiers, no rules: bench/findability.py) and the deficiency benchmark's signature pages
(labels, ruled lines, signatures, fax streaks through some areas: bench/deficiency.py). For
each: how many printed identifiers (resp. signature labels) tesseract read, the mean word
confidence, on how many pages the copy tesseract reads was changed at all, and what the
erasing cost per page.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from unittest import mock

import chartclerk.bench.deficiency as deficiency_bench
import chartclerk.ocr.reading as reading
from chartclerk.bench import findability
from chartclerk.ingest import PageImage
from chartclerk.ingest.models import GrayImage
from chartclerk.ocr import normalize_resolution, ocr_page, straighten_page
from chartclerk.ocr.models import OcrResult
from chartclerk.ocr.prepare import erase_thin_lines
from chartclerk.settings import OcrSettings

SETTINGS = OcrSettings()


def read(image: GrayImage, dpi: float, erase: bool) -> OcrResult:
    keep = mock.patch.object(reading, "erase_thin_lines", lambda image, dpi: image)
    with contextlib.nullcontext() if erase else keep:
        page = straighten_page(normalize_resolution(PageImage(1, image, dpi), SETTINGS))
        return ocr_page(page, SETTINGS).ocr


def erase_cost(image: GrayImage, dpi: float) -> tuple[bool, float]:
    """Whether the page's copy changes, and the time erasing takes, on the page as OCR gets it."""
    page = straighten_page(normalize_resolution(PageImage(1, image, dpi), SETTINGS))
    start = time.perf_counter()
    erased = erase_thin_lines(page.image, page.dpi)
    return erased is not page.image, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=30, help="pages of each family")
    parser.add_argument("--seed", type=int, default=1015)
    args = parser.parse_args()
    erase_thin_lines(findability.render(findability.make_pages(1, 0)[0], 0), 300)  # OpenCV's first call

    found = {True: 0, False: 0}
    confidence = {True: 0.0, False: 0.0}
    changed, cost, wanted = 0, 0.0, 0
    for i, page in enumerate(findability.make_pages(args.pages, args.seed)):
        image = findability.render(page, args.seed + i)
        touched, seconds = erase_cost(image, page.dpi)
        changed, cost, wanted = changed + touched, cost + seconds, wanted + len(page.codes)
        for erase in (True, False):
            result = read(image, page.dpi, erase)
            text = result.text.replace(" ", "")
            found[erase] += sum(code in text for code in page.codes)
            confidence[erase] += result.mean_confidence or 0.0
    print(f"findability family (seed {args.seed}, {args.pages} pages): pages whose OCR copy changed "
          f"{changed}; erasing {1000 * cost / args.pages:.1f} ms per page")  # fmt: skip
    for erase in (True, False):
        print(f"  lines {'erased' if erase else 'kept  '}: identifiers read exactly {found[erase]}/{wanted}, "
              f"mean word confidence {confidence[erase] / args.pages:.1f}")  # fmt: skip

    rng = random.Random(args.seed)
    labels = {True: 0, False: 0}
    confidence = {True: 0.0, False: 0.0}
    changed, cost, drawn = 0, 0.0, 0
    for _ in range(args.pages):
        images, truth = deficiency_bench.signature_page(rng, rng.choice(deficiency_bench.NAMES))
        touched, seconds = erase_cost(images[0], deficiency_bench.DPI)
        changed, cost, drawn = changed + touched, cost + seconds, drawn + len(truth.signatures)
        for erase in (True, False):
            result = read(images[0], deficiency_bench.DPI, erase)
            labels[erase] += sum(
                1 for w in result.words if "signature" in w.text.lower() or "signed" in w.text.lower()
            )
            confidence[erase] += result.mean_confidence or 0.0
    print(f"deficiency family (seed {args.seed}, {args.pages} signature pages, {drawn} signature areas): "
          f"pages whose OCR copy changed {changed}; erasing {1000 * cost / args.pages:.1f} ms "
          "per page")  # fmt: skip
    for erase in (True, False):
        print(f"  lines {'erased' if erase else 'kept  '}: signature label words read {labels[erase]}, "
              f"mean word confidence {confidence[erase] / args.pages:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
