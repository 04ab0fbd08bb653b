"""Training the document-type model: the corpus recipe, fitting, calibration, office retraining.

The shipped corpus (``classify/model/corpus-v2.jsonl.gz``) is made by :func:`build_corpus`
from two template families: the forms-style documents of :mod:`.forms` (face sheets, lab
tables, prescriptions..., their wording read from ``templates/forms/``) and the
clinical-style notes of :mod:`.clinical` (dictations, letters, office notes, read from the
data files in ``templates/``). Per type, some
documents are rendered as scanned pages (150 or 200 dpi, some blurred or speckled) and
read by the project's own tesseract wrapper, so the model learns real OCR noise; many
more are kept as text with simulated OCR damage, for breadth. ``make model`` rebuilds it:

    .venv/bin/python -m chartclerk.classify.training --rebuild-corpus --workers 2

``chartclerk train`` fits on that corpus plus the office's corrected documents (the
clerk's ``file --type`` decisions, weighted up so local forms count) and saves the
result under ``<archive>/models``; it reports the accuracy on those documents before
(the model in use) and after (cross-validated: each document scored by a model that
did not see it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.model import (
    MODEL_FORMAT,
    SHIPPED_DIR,
    SHIPPED_NAME,
    DoctypeModel,
    FeatureSettings,
    ModelManifest,
    current_model,
    load_model,
    normalize_text,
    office_manifests,
    save_model,
)
from chartclerk.classify.training.clinical import ClinicalNote, clinical_note, clinical_types
from chartclerk.classify.training.forms import generate_document, ocr_noise
from chartclerk.errors import ModelError

log = logging.getLogger(__name__)

CORPUS_FILE: Final = SHIPPED_DIR / "corpus-v2.jsonl.gz"
OFFICE_WEIGHT: Final = 5.0  # one corrected office document counts as this many corpus documents
KEEP_OFFICE_MODELS: Final = 5
CV_FOLDS: Final = 5


@dataclass(frozen=True, slots=True)
class CorpusRecipe:
    ocr_per_type: int = 32  # forms-style documents rendered and OCR'd, per type
    text_per_type: int = 150  # forms-style documents as noisy text, per type
    clinical_ocr_per_type: int = 12  # clinical-style notes rendered and OCR'd, per type that has them
    clinical_text_per_type: int = 320  # clinical-style notes as noisy text, per type that has them
    text_noise_rate: float = 0.03  # share of characters damaged in the text-only documents
    ocr_seed_base: int = 0  # OCR'd documents use seeds ocr_seed_base ..., text-only ones 100000 ...
    text_seed_base: int = 100_000


@dataclass(frozen=True, slots=True)
class FitRecipe:
    min_df: int = 2
    max_word_features: int = 30_000
    max_char_features: int = 50_000
    c: float = 0.5  # inverse regularization of the linear SVM
    calibration_folds: int = 5
    familiar_quantile: float = 0.03  # of held-out-family best scores: below it a text grows unfamiliar
    familiar_ramp: float = 0.3  # score units from the floor down to "unknown" (uniform probabilities)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    doc_type: str
    source: str  # "ocr", "text" or "office"
    seed: int = 0
    style: str = ""  # the template family: "forms", or "<type>/<style>" of a clinical note


# --------------------------------------------------------------------------- corpus


def _ocr_example(args: tuple[str, str, int]) -> Example:
    """Render one corpus document as scanned pages and OCR it (runs in a worker process)."""
    from chartclerk.classify.training.render import render_pages, scan_like
    from chartclerk.ocr.tesseract import ocr_image
    from chartclerk.settings import OcrSettings

    family, doc_type, seed = args
    doc = generate_document(doc_type, seed) if family == "forms" else clinical_note(doc_type, seed)
    style = doc.style if isinstance(doc, ClinicalNote) else "forms"
    rng = random.Random(f"scan:{doc_type}:{seed}" if family == "forms" else f"scan:{style}:{seed}")
    dpi = rng.choice((150, 200, 200))
    texts = []
    for index, page in enumerate(render_pages(doc.blocks, doc.layout, dpi)):
        scanned = scan_like(
            page,
            blur=rng.choice((0, 0, 0, 3)),
            noise=rng.choice((0.0, 0.0, 0.001, 0.003)),
            seed=seed * 10 + index,
        )
        texts.append(ocr_image(scanned, dpi, OcrSettings()).text)
    return Example("\n\f".join(texts), doc_type, "ocr", seed, style)


def text_example(family: str, doc_type: str, seed: int, rate: float) -> Example:
    if family == "forms":
        text, style = generate_document(doc_type, seed).text, "forms"
        rng = random.Random(f"noise:{doc_type}:{seed}")
    else:
        note = clinical_note(doc_type, seed)
        text, style = note.text, note.style
        rng = random.Random(f"noise:{style}:{seed}")
    return Example(ocr_noise(text, rng, rng.uniform(0.0, 2 * rate)), doc_type, "text", seed, style)


def corpus_jobs(recipe: CorpusRecipe) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """The corpus's (family, type, seed) triples: those to render and OCR, those kept as text."""
    clinical = clinical_types()
    ocr = [("forms", t, recipe.ocr_seed_base + i) for i in range(recipe.ocr_per_type) for t in DOC_TYPES]
    ocr += [
        ("clinical", t, recipe.ocr_seed_base + i)
        for i in range(recipe.clinical_ocr_per_type)
        for t in clinical
    ]
    text = [("forms", t, recipe.text_seed_base + i) for t in DOC_TYPES for i in range(recipe.text_per_type)]
    text += [
        ("clinical", t, recipe.text_seed_base + i)
        for t in clinical
        for i in range(recipe.clinical_text_per_type)
    ]
    return ocr, text


def _family(example: Example) -> str:
    return "forms" if example.style in ("", "forms") else "clinical"


def build_corpus(
    recipe: CorpusRecipe,
    executor: Executor,
    progress: Callable[[int, int], None] | None = None,
    reuse: Sequence[Example] = (),
) -> list[Example]:
    """The whole training corpus; OCR'd documents are read through ``executor``. OCR'd
    documents of ``reuse`` (an earlier corpus made by the same generators and tesseract)
    whose (family, type, seed) the recipe asks for are taken as they are instead of
    being rendered and read again."""
    ocr_jobs, text_jobs = corpus_jobs(recipe)
    known = {(_family(e), e.doc_type, e.seed): e for e in reuse if e.source == "ocr"}
    # corpus-v1's examples carry no style yet: they are all forms-style
    examples = [replace(known[j], style=known[j].style or "forms") for j in ocr_jobs if j in known]
    todo = [j for j in ocr_jobs if j not in known]
    for done, example in enumerate(executor.map(_ocr_example, todo, chunksize=4), start=1):
        examples.append(example)
        if progress is not None:
            progress(done, len(todo))
    examples += [text_example(f, t, seed, recipe.text_noise_rate) for f, t, seed in text_jobs]
    return examples


def write_corpus(examples: Sequence[Example], path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as out:
        for e in examples:
            out.write(json.dumps(asdict(e), ensure_ascii=False, sort_keys=True) + "\n")


def read_corpus(path: Path = CORPUS_FILE) -> list[Example]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            return [Example(**json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"cannot read the training corpus {path} ({type(e).__name__})") from e


# --------------------------------------------------------------------------- fitting


def make_features(recipe: FitRecipe) -> Any:
    """TF-IDF of words and word pairs, and of character n-grams inside words, side by side."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    features = FeatureSettings()
    words = TfidfVectorizer(
        ngram_range=features.word_ngrams,
        token_pattern=features.word_token_pattern,
        lowercase=False,  # normalize_text did it
        min_df=recipe.min_df,
        max_features=recipe.max_word_features,
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=features.char_ngrams,
        lowercase=False,
        min_df=recipe.min_df,
        max_features=recipe.max_char_features,
        sublinear_tf=True,
    )
    return FeatureUnion([("words", words), ("chars", chars)])


def fit(
    examples: Sequence[Example], recipe: FitRecipe, weights: Sequence[float] | None = None
) -> DoctypeModel:
    """Fit on ``examples`` and export the result as arrays (checked against scikit-learn's output).

    A linear SVM (one-vs-rest) is fitted on all examples, each with its weight. Its scores
    become probabilities by a softmax with one temperature, fitted (maximum likelihood) on
    *held-out-family* scores, which also set the familiarity floor: the corpus is cut into
    folds by template style (GroupKFold), so each note is scored by a model that saw none
    of its style's notes, which is how a note written by someone else looks to the model.
    Calibration uses the corpus examples only: an office's few corrected documents,
    heavily weighted, must teach the SVM their forms without bending every type's
    probabilities. The features (vocabulary, IDF) come from the corpus examples only."""
    import sklearn
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold
    from sklearn.svm import LinearSVC

    texts = [normalize_text(e.text) for e in examples]
    corpus = np.asarray([e.source != "office" for e in examples])
    # Vocabulary and IDF come from the corpus only: no word of an office's documents (a
    # patient's name, an address) is ever written into a model file.
    features = make_features(recipe).fit([t for t, c in zip(texts, corpus, strict=True) if c])
    matrix = features.transform(texts).tocsr()
    labels = np.asarray([e.doc_type for e in examples])
    sample_weight = np.ones(len(examples)) if weights is None else np.asarray(weights, dtype=np.float64)
    svm = LinearSVC(C=recipe.c, class_weight="balanced", random_state=0)
    scores = np.zeros((len(examples), len(DOC_TYPES)))
    folds = GroupKFold(recipe.calibration_folds)
    for train, test in folds.split(matrix, labels, calibration_groups(examples)):
        fold = clone(svm).fit(matrix[train], labels[train], sample_weight=sample_weight[train])
        scores[test] = fold.decision_function(matrix[test])[:, _order(fold.classes_)]
    svm.fit(matrix, labels, sample_weight=sample_weight)
    truth = np.asarray([DOC_TYPES.index(t) for t in labels])
    temperature = fit_temperature(scores[corpus], truth[corpus])
    floor = familiar_floor(scores[corpus], recipe.familiar_quantile)
    manifest = ModelManifest(
        MODEL_FORMAT, "in-memory", "", "", DOC_TYPES, FeatureSettings(), sklearn.__version__
    )
    model = DoctypeModel.from_fitted(features, svm, temperature, (floor, recipe.familiar_ramp), manifest)
    sample = [normalize_text(e.text) for e in examples[:: max(1, len(examples) // 50)]]
    expected = svm.decision_function(features.transform(sample))[:, _order(svm.classes_)]
    model.check_scores(sample, expected)
    log.info(
        "fitted on %d documents: temperature %.3f, familiar floor %.3f", len(examples), temperature, floor
    )
    return model


def calibration_groups(examples: Sequence[Example]) -> list[str]:
    """The held-out families of the calibration folds: a clinical note's template style;
    forms-style documents (one style per type) by seed; office documents by position."""
    groups = []
    for i, e in enumerate(examples):
        if e.source == "office":
            groups.append(f"office:{i % 5}")
        elif e.style and e.style != "forms":
            groups.append(e.style)
        else:
            groups.append(f"forms:{e.seed % 7}")
    return groups


def fit_temperature(scores: Any, truth: Any) -> float:
    """The temperature T minimizing the negative log-likelihood of softmax(scores / T)
    for the true types (Guo et al. 2017, "On calibration of modern neural networks")."""
    from scipy.optimize import minimize_scalar

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=np.int64)

    def nll(log_t: float) -> float:
        z = s / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.005), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def familiar_floor(scores: Any, quantile: float) -> float:
    """The ``quantile`` of the best held-out-family score of each document: notes of known
    types written in a style the model never saw still reach it."""
    return float(np.quantile(np.asarray(scores).max(axis=1), quantile))


def _order(classes: Any) -> list[int]:
    names = [str(c) for c in classes]
    if sorted(names) != sorted(DOC_TYPES):
        raise ModelError("the classifier was not trained on the 13 document types")
    return [names.index(t) for t in DOC_TYPES]


def accuracy(model: DoctypeModel, examples: Sequence[Example]) -> float:
    if not examples:
        return float("nan")
    predicted = model.predict([e.text for e in examples])
    return sum(p == e.doc_type for p, e in zip(predicted, examples, strict=True)) / len(examples)


def train_shipped(
    recipe: FitRecipe = FitRecipe(), corpus_path: Path = CORPUS_FILE, folder: Path = SHIPPED_DIR
) -> Path:
    """Fit the shipped model on the shipped corpus; a held-out fifth of its OCR'd documents
    is scored first (by a model fitted without them) and recorded in the manifest."""
    corpus = read_corpus(corpus_path)
    rng = random.Random("holdout")
    held = {i for i, e in enumerate(corpus) if e.source == "ocr" and rng.random() < 0.2}
    probe = fit([e for i, e in enumerate(corpus) if i not in held], recipe)
    holdout = accuracy(probe, [corpus[i] for i in sorted(held)])
    started = time.perf_counter()
    model = fit(corpus, recipe)
    metrics = {
        "corpus_documents": len(corpus),
        "ocr_holdout_documents": len(held),
        "ocr_holdout_accuracy": round(holdout, 4),
        "fit_seconds": round(time.perf_counter() - started, 1),
    }
    manifest = save_model(model, folder, SHIPPED_NAME, _recipe(recipe, corpus_path), metrics, mode=0o644)
    log.info("shipped model: OCR hold-out accuracy %.3f on %d documents", holdout, len(held))
    return manifest


def _recipe(recipe: FitRecipe, corpus_path: Path, office: int = 0) -> dict[str, Any]:
    return {
        "corpus": corpus_path.name,
        "corpus_recipe": asdict(CorpusRecipe()),
        "fit": asdict(recipe),
        "office_documents": office,
        "office_weight": OFFICE_WEIGHT,
        "command": "make model" if office == 0 else "chartclerk train",
    }


# --------------------------------------------------------------------------- office retraining


@dataclass(frozen=True, slots=True)
class TrainReport:
    model: str | None  # name of the saved model; None when nothing was trained
    previous_model: str
    office_documents: int
    corpus_documents: int
    accuracy_before: float | None  # of the model in use, on the office's corrected documents
    accuracy_after: float | None  # cross-validated, on the same documents
    seconds: float
    folds: int = 0


def retrain(
    office: Sequence[tuple[str, str]],
    model_dir: Path,
    recipe: FitRecipe = FitRecipe(),
    corpus_path: Path | None = None,
) -> TrainReport:
    """Fit a new office model on the shipped corpus plus ``office`` (text, corrected type)
    pairs and save it into ``model_dir``; report accuracy on ``office`` before and after."""
    started = time.perf_counter()
    previous = current_model(model_dir)
    office_examples = [
        Example(text, doc_type, "office") for text, doc_type in office if doc_type in DOC_TYPES
    ]
    if not office_examples:
        return TrainReport(None, previous.name, 0, 0, None, None, time.perf_counter() - started)
    corpus_path = corpus_path or CORPUS_FILE
    corpus = read_corpus(corpus_path)
    before = accuracy(previous, office_examples)
    folds = min(CV_FOLDS, len(office_examples))
    after: float | None = None
    if folds >= 2:
        order = list(range(len(office_examples)))
        random.Random("office-cv").shuffle(order)
        correct = 0
        for fold in range(folds):
            held = set(order[fold::folds])
            test = [office_examples[i] for i in sorted(held)]
            train = [office_examples[i] for i in order if i not in held]
            model = _fit_with_office(corpus, train, recipe)
            correct += round(accuracy(model, test) * len(test))
        after = correct / len(office_examples)
    final = _fit_with_office(corpus, office_examples, recipe)
    name = "doctype-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    metrics = {
        "office_documents": len(office_examples),
        "office_accuracy_before": round(before, 4),
        "office_accuracy_after_cv": None if after is None else round(after, 4),
    }
    manifest = save_model(final, model_dir, name, _recipe(recipe, corpus_path, len(office_examples)), metrics)
    load_model(manifest)  # what was written loads and verifies
    for old in office_manifests(model_dir)[KEEP_OFFICE_MODELS:]:
        old.with_suffix(".npz").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return TrainReport(
        name,
        previous.name,
        len(office_examples),
        len(corpus),
        before,
        after,
        time.perf_counter() - started,
        folds,
    )


def _fit_with_office(corpus: Sequence[Example], office: Sequence[Example], recipe: FitRecipe) -> DoctypeModel:
    examples = [*corpus, *office]
    weights = [1.0] * len(corpus) + [OFFICE_WEIGHT] * len(office)
    return fit(examples, recipe, weights)


# --------------------------------------------------------------------------- make model


def main(argv: Sequence[str] | None = None) -> None:
    """``make model``: rebuild the corpus (render + OCR) if asked, then the shipped model."""
    parser = argparse.ArgumentParser(description="Build the shipped document-type corpus and model.")
    parser.add_argument("--rebuild-corpus", action="store_true", help="render and OCR the corpus again")
    parser.add_argument("--workers", type=int, default=2, help="OCR worker processes")
    parser.add_argument(
        "--reuse-ocr",
        type=Path,
        help="an earlier corpus file whose OCR'd documents the recipe still asks for are kept, not re-read",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.rebuild_corpus or not CORPUS_FILE.exists():
        from chartclerk.workers import make_pool

        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                log.info("corpus: %d/%d documents OCR'd (%.0f s)", done, total, time.perf_counter() - started)

        reuse = read_corpus(args.reuse_ocr) if args.reuse_ocr else []
        with make_pool(args.workers) as pool:
            examples = build_corpus(CorpusRecipe(), pool, report, reuse)
        write_corpus(examples, CORPUS_FILE)
        log.info("corpus: %d documents written to %s", len(examples), CORPUS_FILE)
    manifest = train_shipped()
    log.info("model written: %s", manifest)


if __name__ == "__main__":
    main()
