"""The learned document-type model: files, safe loading, prediction and explanation.

The classifier is TF-IDF over words and word pairs plus TF-IDF over character
3-5-grams inside words (they survive OCR damage), into a linear SVM. Its scores become
probabilities by a softmax with one *temperature*, fitted on held-out families of the
training corpus (each note scored by a model that never saw its template style), so a
confidence of 0.9 is right about nine times in ten. Text far from every type (few words
the model knows, or a best score below what held-out notes of every type reach) is
pulled toward a uniform guess and so goes to review. The model is fitted with scikit-learn (the factory,
``chartclerk.classify.training``) and exported to plain arrays, so loading it runs no
pickle and no object graph at all:

* ``<name>.npz``: the vocabularies (unicode arrays), IDF weights, the weight matrix,
  intercepts, the temperature and the familiarity floor and ramp; read with
  ``allow_pickle=False``;
* ``<name>.json``: the manifest: format version, sha256 of the .npz, the 13 types, the
  feature settings, the training recipe and measured accuracy.

Loading reads the .npz bytes once, checks them against the manifest's sha256, checks the
format version and every array's shape, then builds the model from the verified bytes;
anything wrong raises :class:`~chartclerk.errors.ModelError`. On export the arrays are
checked to reproduce scikit-learn's own scores.

The shipped model lives in ``classify/model/``; office models retrained by
``chartclerk train`` live in ``<archive>/models/`` and the newest valid one wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from chartclerk.classify.doctype import DOC_TYPES, LOINC
from chartclerk.classify.models import Classification
from chartclerk.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FORMAT: Final = 2  # 2: a temperature and a familiarity floor replace per-type sigmoids
SHIPPED_DIR: Final = Path(__file__).resolve().parent / "model"
SHIPPED_NAME: Final = "doctype-v2"
MAX_CHARS: Final = 50_000  # the start of a long document (about 15 pages) types it
MIN_KNOWN_WORDS: Final = 8  # with fewer words the model knows, probabilities are pulled toward uniform
_OCR_IN_WORD: Final = {"0": "o", "1": "l", "5": "s", "|": "l"}
_ARRAYS: Final = (
    "word_terms",
    "word_idf",
    "char_terms",
    "char_idf",
    "coef",
    "intercept",
    "temperature",
    "familiar",
)

Floats = npt.NDArray[np.float64]


def normalize_text(text: str) -> str:
    """What the model reads: lower case, OCR digits inside words turned back into
    letters ("rep0rt"), every other digit made 0 (dates, values and numbers carry
    their shape, not their value), whitespace runs collapsed, empty lines dropped."""
    lowered = text[:MAX_CHARS].lower()
    lowered = re.sub(r"(?<=[a-z])[015|](?=[a-z])", lambda m: _OCR_IN_WORD[m.group()], lowered)
    lowered = re.sub(r"\d", "0", lowered)
    return "\n".join(" ".join(line.split()) for line in lowered.splitlines() if line.strip())


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    word_ngrams: tuple[int, int] = (1, 2)
    word_token_pattern: str = r"(?u)\b[a-z][a-z]+\b"
    char_ngrams: tuple[int, int] = (3, 5)


@dataclass(frozen=True, slots=True)
class ModelManifest:
    format_version: int
    name: str
    sha256: str
    created: str  # ISO 8601, UTC
    doc_types: tuple[str, ...]
    features: FeatureSettings = FeatureSettings()
    trained_with: str = ""  # scikit-learn version used to fit (not needed to load)
    recipe: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.npz"


@dataclass(frozen=True, slots=True)
class TypeEvidence:
    doc_type: str
    probability: float
    words: tuple[tuple[str, float], ...]  # the words (or word pairs) that weighed most for this type


@dataclass(frozen=True, slots=True)
class Explanation:
    classification: Classification
    top: tuple[TypeEvidence, ...]  # the best types, best first
    model: str  # the model's name
    known_words: int


class DoctypeModel:
    """A verified model. Use :func:`load_model` or :func:`current_model`; training builds
    one with :meth:`from_fitted`."""

    def __init__(self, manifest: ModelManifest, arrays: dict[str, npt.NDArray[Any]]) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.manifest = manifest
        _check_arrays(manifest.name, arrays)
        self._arrays = arrays
        f = manifest.features
        self._word_terms = [str(t) for t in arrays["word_terms"]]
        self._char_terms = [str(t) for t in arrays["char_terms"]]
        self._words = CountVectorizer(
            vocabulary={t: i for i, t in enumerate(self._word_terms)},
            ngram_range=tuple(f.word_ngrams),
            token_pattern=f.word_token_pattern,
            lowercase=False,
            dtype=np.float64,
        )
        self._chars = CountVectorizer(
            vocabulary={t: i for i, t in enumerate(self._char_terms)},
            analyzer="char_wb",
            ngram_range=tuple(f.char_ngrams),
            lowercase=False,
            dtype=np.float64,
        )
        self._analyze = self._words.build_analyzer()

    @property
    def name(self) -> str:
        return self.manifest.name

    @classmethod
    def from_fitted(
        cls,
        features: Any,
        svm: Any,
        temperature: float,
        familiar: tuple[float, float],
        manifest: ModelManifest,
    ) -> DoctypeModel:
        """Export fitted scikit-learn parts (the factory's ``fit``) to arrays: the two
        TF-IDF vectorizers of ``features``, the linear ``svm``, the softmax ``temperature``
        and ``familiar`` (floor, ramp): a text whose best SVM score is below the floor is
        less and less familiar, and unknown at floor - ramp."""
        words, chars = (t for _, t in features.transformer_list)
        classes = [str(c) for c in svm.classes_]
        if sorted(classes) != sorted(DOC_TYPES):
            raise ModelError("the classifier was not trained on the 13 document types")
        rows = [classes.index(t) for t in DOC_TYPES]

        def vocabulary(vectorizer: Any) -> npt.NDArray[np.str_]:
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            return np.asarray(terms, dtype=np.str_)

        arrays: dict[str, npt.NDArray[Any]] = {
            "word_terms": vocabulary(words),
            "word_idf": np.asarray(words.idf_, dtype=np.float64),
            "char_terms": vocabulary(chars),
            "char_idf": np.asarray(chars.idf_, dtype=np.float64),
            "coef": np.asarray(svm.coef_, dtype=np.float32)[rows],
            "intercept": np.asarray(svm.intercept_, dtype=np.float64)[rows],
            "temperature": np.asarray([temperature], dtype=np.float64),
            "familiar": np.asarray(familiar, dtype=np.float64),
        }
        return cls(manifest, arrays)

    def check_scores(self, normalized: Sequence[str], expected: Floats) -> None:
        """Raise ModelError unless these arrays give the fitted SVM's scores (``expected``,
        DOC_TYPES order) on the ``normalized`` texts."""
        if not np.allclose(self._scores(normalized), expected, atol=1e-3):
            raise ModelError("the exported model does not reproduce the fitted one")

    # -- prediction -----------------------------------------------------------------------------

    def _features(self, normalized: Sequence[str]) -> Any:
        from scipy import sparse

        blocks = []
        for vectorizer, idf in ((self._words, "word_idf"), (self._chars, "char_idf")):
            counts = vectorizer.transform(normalized).tocsr()
            counts.data = 1.0 + np.log(counts.data)  # sublinear tf
            weighted = counts.multiply(self._arrays[idf]).tocsr()
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
            norms[norms == 0] = 1.0
            blocks.append(sparse.diags(1.0 / norms) @ weighted)
        return sparse.hstack(blocks).tocsr()

    def _scores(self, normalized: Sequence[str]) -> Floats:
        decision = self._features(normalized) @ self._arrays["coef"].T.astype(np.float64)
        scores: Floats = np.asarray(decision) + self._arrays["intercept"]
        return scores

    def _softmax(self, scores: Floats) -> Floats:
        z = scores / float(self._arrays["temperature"][0])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        probs: Floats = e / e.sum(axis=1, keepdims=True)
        return probs

    def familiarity(self, normalized: Sequence[str], scores: Floats | None = None) -> Floats:
        """Per text, in [0, 1]: 1 when it looks like something the model knows; less with
        fewer than MIN_KNOWN_WORDS known words, or when even its best type's SVM score is
        below the floor that held-out notes of known types reach (every type says "not
        me"), down to 0 at floor - ramp."""
        if scores is None:
            scores = self._scores(normalized)
        known = np.asarray([min(1.0, self._known_words(t) / MIN_KNOWN_WORDS) for t in normalized])
        floor, ramp = (float(x) for x in self._arrays["familiar"])
        near = np.clip((scores.max(axis=1) - (floor - ramp)) / ramp, 0.0, 1.0)
        out: Floats = np.minimum(known, near)
        return out

    def probabilities(self, texts: Sequence[str]) -> Floats:
        """Calibrated probabilities, one row per text, columns in DOC_TYPES order; text the
        model barely knows (:meth:`familiarity` below 1) is pulled toward uniform."""
        normalized = [normalize_text(t) for t in texts]
        scores = self._scores(normalized)
        probs = self._softmax(scores)
        weight = self.familiarity(normalized, scores)[:, None]
        mixed: Floats = weight * probs + (1.0 - weight) / len(DOC_TYPES)
        return mixed

    def classify(self, text: str) -> Classification:
        return _classification(self.probabilities([text])[0])

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [_classification(row).doc_type for row in self.probabilities(texts)]

    def explain(self, text: str, types: int = 3, words: int = 8) -> Explanation:
        """The ``types`` best types with their probabilities, and for each the words and
        word pairs of ``text`` that pushed the model toward it most."""
        result = _classification(self.probabilities([text])[0])
        normalized = normalize_text(text)
        vector = self._features([normalized])
        n_word = len(self._word_terms)
        in_words = vector.indices < n_word
        cols, values = vector.indices[in_words], vector.data[in_words]
        top: list[TypeEvidence] = []
        for doc_type, probability in result.scores[:types]:
            weights = values * self._arrays["coef"][DOC_TYPES.index(doc_type), cols]
            best = np.argsort(-weights, kind="stable")[:words]
            evidence = tuple(
                (self._word_terms[cols[i]], round(float(weights[i]), 3)) for i in best if weights[i] > 0
            )
            top.append(TypeEvidence(doc_type, probability, evidence))
        return Explanation(result, tuple(top), self.name, self._known_words(normalized))

    def _known_words(self, normalized: str) -> int:
        vocabulary = self._words.vocabulary
        assert isinstance(vocabulary, dict)
        return sum(1 for token in self._analyze(normalized) if " " not in token and token in vocabulary)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **self._arrays)
        return buffer.getvalue()


def _check_arrays(name: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
    missing = [k for k in _ARRAYS if k not in arrays]
    if missing:
        raise ModelError(f"model {name} lacks {', '.join(missing)}")
    n_types = len(DOC_TYPES)
    n_words, n_chars = len(arrays["word_terms"]), len(arrays["char_terms"])
    shapes = {
        "word_terms": (n_words,),
        "word_idf": (n_words,),
        "char_terms": (n_chars,),
        "char_idf": (n_chars,),
        "coef": (n_types, n_words + n_chars),
        "intercept": (n_types,),
        "temperature": (1,),
        "familiar": (2,),
    }
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ModelError(f"model {name}: {key} has shape {arrays[key].shape}, expected {shape}")
    for key in ("word_terms", "char_terms"):
        if arrays[key].dtype.kind != "U":
            raise ModelError(f"model {name}: {key} is not text")
    for key in ("word_idf", "char_idf", "coef", "intercept", "temperature", "familiar"):
        if arrays[key].dtype.kind != "f" or not np.all(np.isfinite(arrays[key])):
            raise ModelError(f"model {name}: {key} is not finite numbers")
    if not (arrays["temperature"][0] > 0 and arrays["familiar"][1] > 0):
        raise ModelError(f"model {name}: temperature or familiarity ramp is not positive")


def _classification(probs: Floats) -> Classification:
    # Best first; on a tie "other" goes first (empty text says nothing of a type).
    ranked = sorted(
        zip(DOC_TYPES, (float(p) for p in probs), strict=True),
        key=lambda kv: (-round(kv[1], 6), kv[0] != "other", DOC_TYPES.index(kv[0])),
    )
    doc_type, confidence = ranked[0]
    return Classification(
        doc_type=doc_type,
        loinc=LOINC[doc_type],
        confidence=round(confidence, 4),
        scores=tuple((t, round(p, 4)) for t, p in ranked),
    )


# --------------------------------------------------------------------------- files


def load_model(manifest_path: Path) -> DoctypeModel:
    """Load and verify the model described by ``manifest_path`` (``<name>.json``)."""
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
        features = raw.get("features", {})
        manifest = ModelManifest(
            format_version=int(raw["format_version"]),
            name=str(raw["name"]),
            sha256=str(raw["sha256"]),
            created=str(raw["created"]),
            doc_types=tuple(raw["doc_types"]),
            features=FeatureSettings(
                word_ngrams=(int(features["word_ngrams"][0]), int(features["word_ngrams"][1])),
                word_token_pattern=str(features["word_token_pattern"]),
                char_ngrams=(int(features["char_ngrams"][0]), int(features["char_ngrams"][1])),
            ),
            trained_with=str(raw.get("trained_with", "")),
            recipe=dict(raw.get("recipe", {})),
            metrics=dict(raw.get("metrics", {})),
        )
    except OSError as e:
        raise ModelError(f"cannot read model manifest {manifest_path}: {e.strerror or e}") from e
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ModelError(f"model manifest {manifest_path} is damaged ({type(e).__name__})") from e
    if manifest.format_version != MODEL_FORMAT:
        raise ModelError(
            f"model {manifest.name} has format {manifest.format_version}, "
            f"this chartclerk reads format {MODEL_FORMAT}: run `chartclerk train` (or `make model`)"
        )
    if tuple(manifest.doc_types) != DOC_TYPES:
        raise ModelError(f"model {manifest.name} was trained for other document types")
    model_path = manifest_path.with_name(manifest.file_name)
    try:
        data = model_path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file {model_path}: {e.strerror or e}") from e
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise ModelError(f"model file {model_path} does not match its checksum (damaged or replaced)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as e:  # noqa: BLE001 - anything unreadable in a verified file is a damaged model
        raise ModelError(f"model file {model_path} cannot be read ({type(e).__name__})") from e
    model = DoctypeModel(manifest, arrays)
    log.debug("loaded document-type model %s", manifest.name)
    return model


def save_model(
    model: DoctypeModel,
    folder: Path,
    name: str,
    recipe: dict[str, Any],
    metrics: dict[str, Any],
    mode: int = 0o600,
) -> Path:
    """Write ``<name>.npz`` and then its manifest ``<name>.json`` (each atomically) into
    ``folder``; returns the manifest path. The manifest comes last, so a model file
    without one is an interrupted save and is never loaded."""
    data = model.to_bytes()
    manifest = ModelManifest(
        format_version=MODEL_FORMAT,
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        created=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        doc_types=DOC_TYPES,
        features=model.manifest.features,
        trained_with=model.manifest.trained_with,
        recipe=recipe,
        metrics=metrics,
    )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # like the archive's own folders
        _write_atomic(folder / manifest.file_name, data, mode)
        text = json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n"
        _write_atomic(folder / f"{name}.json", text.encode("utf-8"), mode)
    except OSError as e:
        raise ModelError(f"cannot write model {name} into {folder}: {e.strerror or e}") from e
    log.info("saved document-type model %s (%d bytes)", name, len(data))
    return folder / f"{name}.json"


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def shipped_manifest() -> Path:
    return SHIPPED_DIR / f"{SHIPPED_NAME}.json"


def office_manifests(folder: Path | None) -> list[Path]:
    """Office model manifests in ``folder``, newest first (names carry a UTC timestamp)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(folder.glob("doctype-*.json"), reverse=True)


_cache: dict[tuple[str, int, int, int, int], DoctypeModel] = {}
_lock = Lock()


def current_model(model_dir: Path | None) -> DoctypeModel:
    """The newest valid office model in ``model_dir``, else the shipped one (which must load)."""
    for manifest in office_manifests(model_dir):
        try:
            return _cached(manifest)
        except ModelError as e:
            log.warning("skipping office model: %s", e.message)
    return _cached(shipped_manifest())


def _cached(manifest: Path) -> DoctypeModel:
    try:
        stat = manifest.stat()
        data = manifest.with_suffix(".npz").stat()
    except OSError as e:
        raise ModelError(f"no document-type model at {manifest}: {e.strerror or e}") from e
    key = (str(manifest), stat.st_mtime_ns, stat.st_size, data.st_mtime_ns, data.st_size)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = load_model(manifest)
            if len(_cache) > 4:
                _cache.clear()
            _cache[key] = model
        return model
