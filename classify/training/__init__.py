"""The model factory: what builds the document-type model, never run on a document.

* :mod:`~chartclerk.classify.training.clinical`: clinical-style notes from the data files
  in ``templates/`` (dictations, letters, office notes, heading-only notes...);
* :mod:`~chartclerk.classify.training.forms`: the forms-style corpus (face sheets, lab
  tables, prescriptions, insurance letters... with their layouts), its wording read from
  the data files in ``templates/forms/``;
* :mod:`~chartclerk.classify.training.render`: pages drawn from either, and scanner damage;
* :mod:`~chartclerk.classify.training.trainer`: the corpus recipe (render + OCR through the
  project's tesseract wrapper), fitting, calibration and office retraining.

``make model`` runs ``python -m chartclerk.classify.training``. Only this package may use
OCR (``chartclerk.ocr``): the runtime side of ``classify`` reads text it is given.
"""

from __future__ import annotations

from chartclerk.classify.training.trainer import (
    CORPUS_FILE,
    CorpusRecipe,
    Example,
    FitRecipe,
    TrainReport,
    build_corpus,
    fit,
    read_corpus,
    retrain,
    train_shipped,
    write_corpus,
)

__all__ = [
    "CORPUS_FILE",
    "CorpusRecipe",
    "Example",
    "FitRecipe",
    "TrainReport",
    "build_corpus",
    "fit",
    "read_corpus",
    "retrain",
    "train_shipped",
    "write_corpus",
]
