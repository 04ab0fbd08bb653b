"""Document-type tasks behind `chartclerk classify`, `show --explain` and `train`.

``classify_file`` reads a scan with the pipeline's own per-page stages (nothing is
archived) and explains its type; ``explain_document`` explains an archived document's
type from its stored text; ``train_from_archive`` retrains the office model on the
shipped corpus plus the documents clerks have re-typed.
"""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartclerk.classify.model import Explanation, current_model
from chartclerk.classify.training.trainer import TrainReport, retrain
from chartclerk.errors import ChartclerkError
from chartclerk.ingest import PageTask, inspect_source
from chartclerk.page_worker import PageContext, process_page
from chartclerk.pipeline import split_documents
from chartclerk.settings import Settings
from chartclerk.store import Archive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileTyping:
    source_pages: tuple[int, int]
    explanation: Explanation


def classify_file(path: Path, settings: Settings, executor: Executor, words: int = 8) -> list[FileTyping]:
    """Read ``path`` (every page, as the pipeline would) and explain the type of each
    document in it (documents are split at separator sheets)."""
    source = inspect_source(path, settings.ingest)
    model = current_model(settings.classify.model_dir)
    with tempfile.TemporaryDirectory(prefix="chartclerk-classify-") as tmp:
        ctx = PageContext(settings.ingest, settings.ocr, Path(tmp))
        futures = [
            executor.submit(process_page, PageTask(source, n), ctx) for n in range(1, source.page_count + 1)
        ]
        pages = [f.result() for f in futures]
    failed = [p.error for p in pages if p.error]
    if failed:
        raise ChartclerkError(failed[0])
    results = []
    for doc in split_documents(pages):
        text = "\n\f".join(p.text for p in doc)
        results.append(FileTyping((doc[0].number, doc[-1].number), model.explain(text, types=3, words=words)))
    log.info("classified %d document(s) of %s", len(results), source.sha256[:12])
    return results


def explain_document(document: dict[str, Any], settings: Settings, words: int = 8) -> Explanation:
    """Why the current model types an archived document as it does: its three likeliest
    types and the words of its stored text that weighed most for each. ``document`` is
    ``Archive.get_document(id, with_text=True)`` (the read is audited there)."""
    text = "\n\f".join(str(page["text"]) for page in document["pages"])
    found = current_model(settings.classify.model_dir).explain(text, types=3, words=words)
    log.info("explained the type of document %s", document["id"])
    return found


def train_from_archive(archive: Archive, settings: Settings) -> TrainReport:
    """Retrain on the shipped corpus plus this archive's corrected documents; the new model
    goes into ``classify.model_dir`` and is used from then on."""
    folder = settings.classify.model_dir or settings.archive / "models"
    return retrain(archive.corrected_documents(), folder)
