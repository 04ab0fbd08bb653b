"""Document typing: the 13 types, their LOINC codes, and ``classify_document``.

The type is decided by the learned model (``chartclerk.classify.model``): TF-IDF of
words and character n-grams of the OCR text into a linear classifier, trained by the
model factory (``chartclerk.classify.training``, ``make model``) on a synthetic corpus
of clinical-style notes and forms, partly OCR'd scans, and, once an office has corrected
some documents, on those too (``chartclerk train``). The confidence is the model's
probability of its best type, calibrated on held-out template families; text the model
barely knows (few known words, or far from every type) gets a low confidence, so it goes
to review instead of being filed silently. ``DOC_TYPES`` is the one list of the types.
"""

from __future__ import annotations

import contextlib
import logging

from chartclerk.classify.models import Classification
from chartclerk.settings import ClassifySettings

log = logging.getLogger(__name__)

DOC_TYPES: tuple[str, ...] = (
    "face_sheet",
    "history_physical",
    "progress_note",
    "consult_note",
    "discharge_summary",
    "operative_report",
    "lab_report",
    "radiology_report",
    "referral",
    "consent_form",
    "prescription",
    "insurance",
    "other",
)

LOINC: dict[str, str] = {
    "discharge_summary": "18842-5",
    "history_physical": "34117-2",
    "progress_note": "11506-3",
    "consult_note": "11488-4",
    "operative_report": "11504-8",
    "lab_report": "11502-2",
    "radiology_report": "18748-4",
    "referral": "57133-1",
    "consent_form": "59284-0",
    "prescription": "57833-6",
    "insurance": "64291-8",
    "face_sheet": "51851-4",
    "other": "34109-9",
}


def warm_up_classifier(settings: ClassifySettings) -> None:
    """Load the model (and scikit-learn, a second of imports) ahead of the first document,
    e.g. in a thread while the first pages are read. A model that fails to load is
    reported by :func:`classify_document` itself."""
    from chartclerk.classify.model import current_model
    from chartclerk.errors import ModelError

    with contextlib.suppress(ModelError):
        current_model(settings.model_dir)


def classify_document(text: str, settings: ClassifySettings) -> Classification:
    """The document type of ``text`` (all pages joined), its LOINC code and a confidence in [0, 1].

    Raises ModelError when no valid model can be loaded."""
    from chartclerk.classify.model import current_model  # it imports DOC_TYPES from here

    result = current_model(settings.model_dir).classify(text)
    log.debug(
        "document type %s, confidence %.2f%s",
        result.doc_type,
        result.confidence,
        " (below minimum)" if result.confidence < settings.min_confidence else "",
    )
    return result
