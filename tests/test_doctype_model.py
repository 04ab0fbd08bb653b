"""The learned document-type model: safe loading, confidence, explanation, office retraining."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chartclerk.classify import DOC_TYPES, LOINC, classify_document
from chartclerk.classify import model as model_module
from chartclerk.classify.model import (
    SHIPPED_NAME,
    current_model,
    load_model,
    normalize_text,
    shipped_manifest,
)
from chartclerk.classify.training import CorpusRecipe, Example, read_corpus, retrain, write_corpus
from chartclerk.classify.training.clinical import clinical_note, clinical_types, style_names
from chartclerk.classify.training.forms import generate_document, ocr_noise
from chartclerk.classify.training.render import Block, Layout, render_pages
from chartclerk.classify.training.trainer import corpus_jobs, fit_temperature, text_example
from chartclerk.errors import ExitCode, ModelError
from chartclerk.ingest.models import SourceFile
from chartclerk.page_worker import PageOutcome
from chartclerk.pipeline import build_document, ingest_files
from chartclerk.settings import ClassifySettings, Settings
from chartclerk.store import Archive
from chartclerk.tests.scans import FakePatient, render_document, write_png
from chartclerk.workers import SerialExecutor

SETTINGS = ClassifySettings()


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """The shipped model's two files, copied into tmp_path; returns the manifest."""
    for suffix in (".json", ".npz"):
        shutil.copyfile(shipped_manifest().with_suffix(suffix), tmp_path / f"{SHIPPED_NAME}{suffix}")
    return tmp_path / f"{SHIPPED_NAME}.json"


def _edit_manifest(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_shipped_model_carries_its_recipe_and_verifies() -> None:
    model = load_model(shipped_manifest())
    manifest = model.manifest
    assert manifest.format_version == model_module.MODEL_FORMAT and manifest.doc_types == DOC_TYPES
    assert len(manifest.sha256) == 64 and manifest.trained_with
    assert (
        manifest.recipe["corpus"] == "corpus-v2.jsonl.gz" and manifest.metrics["ocr_holdout_accuracy"] >= 0.95
    )
    corpus = read_corpus()
    assert {e.doc_type for e in corpus} == set(DOC_TYPES)
    assert sum(e.source == "ocr" for e in corpus) >= 13 * 30  # real OCR of rendered scans
    clinical = {e.style for e in corpus if e.style != "forms"}
    assert {s.split("/")[0] for s in clinical} == set(clinical_types())  # both template families
    assert sum(e.source == "ocr" and e.style != "forms" for e in corpus) >= 9 * 10


def test_shipped_corpus_is_what_the_recipe_generates() -> None:
    """`make model` is reproducible: the generator still writes the shipped text documents
    (the OCR'd ones also depend on tesseract's version)."""
    recipe = CorpusRecipe()
    texts = [e for e in read_corpus() if e.source == "text"]
    _, jobs = corpus_jobs(recipe)
    assert (
        len(texts)
        == len(jobs)
        == (recipe.text_per_type * len(DOC_TYPES) + recipe.clinical_text_per_type * len(clinical_types()))
    )
    for example, (family, doc_type, seed) in list(zip(texts, jobs, strict=True))[:: len(texts) // 60]:
        assert text_example(family, doc_type, seed, recipe.text_noise_rate) == example


def test_damaged_model_file_is_refused(model_copy: Path) -> None:
    npz = model_copy.with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum") as caught:
        load_model(model_copy)
    assert caught.value.exit_code == ExitCode.model


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 99}, "format 99"),
        ({"format_version": 1}, "format 1, this chartclerk reads format 2"),
        ({"features": {"word_ngrams": [1]}}, "damaged"),
        ({"doc_types": ["a", "b"]}, "other document types"),
        ({"sha256": None}, "checksum"),
    ],
)
def test_incompatible_manifest_is_refused(model_copy: Path, changes: dict[str, object], message: str) -> None:
    _edit_manifest(model_copy, **changes)
    with pytest.raises(ModelError, match=message):
        load_model(model_copy)


def test_missing_or_garbled_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "doctype-nothing.json")
    (tmp_path / "doctype-x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="damaged"):
        load_model(tmp_path / "doctype-x.json")


def _rewrite_arrays(manifest: Path, **changes: np.ndarray) -> None:
    """Replace arrays in the model file and re-sign it, as an attacker or a bug could."""
    npz = manifest.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(npz, allow_pickle=True, **arrays)
    _edit_manifest(manifest, sha256=hashlib.sha256(npz.read_bytes()).hexdigest())


def test_model_holding_pickled_objects_is_not_loaded(model_copy: Path) -> None:
    _rewrite_arrays(model_copy, coef=np.array([shutil.rmtree], dtype=object))
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(model_copy)


def test_model_with_wrong_shapes_is_not_loaded(model_copy: Path) -> None:
    _rewrite_arrays(model_copy, intercept=np.zeros(3))
    with pytest.raises(ModelError, match="intercept has shape"):
        load_model(model_copy)


def test_newest_valid_office_model_wins_and_damaged_ones_are_skipped(
    tmp_path: Path, model_copy: Path
) -> None:
    office = tmp_path / "models"
    office.mkdir()
    for stamp in ("20240101T000000", "20250101T000000"):
        for suffix in (".json", ".npz"):
            shutil.copyfile(model_copy.with_suffix(suffix), office / f"doctype-{stamp}{suffix}")
        _edit_manifest(office / f"doctype-{stamp}.json", name=f"doctype-{stamp}")
    assert current_model(office).name == "doctype-20250101T000000"
    (office / "doctype-20250101T000000.npz").write_bytes(b"PK\x03\x04 not a model")
    assert current_model(office).name == "doctype-20240101T000000"
    (office / "doctype-20240101T000000.json").unlink()
    assert current_model(office).name == SHIPPED_NAME
    assert current_model(None).name == SHIPPED_NAME


def test_no_title_line_is_typed_from_the_body() -> None:
    text = "\n".join(
        [
            "Preoperative diagnosis: symptomatic cholelithiasis",
            "Postoperative diagnosis: same",
            "Anesthesia: general endotracheal. Estimated blood loss: 15 mL.",
            "The abdomen was prepped and draped in sterile fashion; trocars were placed under direct vision.",
            "Specimen: gallbladder to pathology. Counts correct. To recovery in stable condition.",
        ]
    )
    result = classify_document(text, SETTINGS)
    assert result.doc_type == "operative_report" and result.confidence >= SETTINGS.min_confidence


def test_explanation_names_the_words_that_weighed_most() -> None:
    text = generate_document("radiology_report", 424242).text
    found = current_model(None).explain(text, types=3, words=6)
    assert [e.doc_type for e in found.top] == [t for t, _ in found.classification.scores[:3]]
    assert found.top[0].doc_type == "radiology_report"
    probabilities = [e.probability for e in found.top]
    assert probabilities == sorted(probabilities, reverse=True) and probabilities[0] > 0.5
    words = [w for w, _ in found.top[0].words]
    assert 1 <= len(words) <= 6
    lowered = text.lower()
    assert all(all(part in lowered for part in w.split()) for w in words)
    weights = [weight for _, weight in found.top[0].words]
    assert weights == sorted(weights, reverse=True) and weights[0] > 0


def test_unreadable_scan_goes_to_review_but_keeps_its_patient(
    settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    """Type is metadata, patient is identity: a document whose type is unsure is held for
    review, and the patient found on it is neither dropped nor changed."""
    p = roster[0]
    text = f"Patient: {p.last.upper()}, {p.first.upper()}   MRN: {p.mrn}   DOB: {_us(p.dob)}\n~~ ## ;; x7"
    source = SourceFile(Path("scan.png"), "scan.png", "ab" * 32, 10, "png", 1)
    record = build_document(source, [PageOutcome(1, text=text)], settings, archive)
    assert record.type_confidence < settings.classify.min_confidence
    assert record.status == "review" and "low type confidence" in (record.review_reason or "")
    assert record.patient_mrn == p.mrn


def _us(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


# --- learning from the clerk -------------------------------------------------------------------------


def _wound_flowsheet(seed: int) -> str:
    """An office's own form the shipped corpus never had: a wound clinic flowsheet (a
    progress note by content, full of measurements and table rows)."""
    r = random.Random(seed)
    rows = [
        f"Wound {i}  L {r.randint(1, 9)}.{r.randint(0, 9)} cm  W {r.randint(1, 5)}.{r.randint(0, 9)} cm  "
        f"D 0.{r.randint(1, 9)} cm  exudate {r.choice(('scant', 'moderate', 'none'))}"
        for i in range(1, r.randint(3, 6))
    ]
    periwound = r.choice(("intact", "macerated", "erythema 1 cm"))
    return "\n".join(
        [
            "WOUND CARE FLOWSHEET",
            f"Visit {r.randint(2, 12)}",
            *rows,
            f"Periwound: {periwound}  Granulation {r.randint(40, 90)}%",
            "Dressing: alginate, foam border. Offloading boot reviewed. Next debridement in one week.",
        ]
    )


def _equipment_order(seed: int) -> str:
    """Another local form: a durable medical equipment order, which this office files as a
    prescription. The shipped model has seen no such thing and is unsure of it."""
    r = random.Random(seed)
    item = r.choice(
        ("front-wheeled walker", "oxygen concentrator 2 L/min", "semi-electric bed", "CPAP, humidifier")
    )
    return "\n".join(
        [
            "DURABLE MEDICAL EQUIPMENT ORDER",
            f"Item: {item}",
            f"HCPCS E{r.randint(1000, 1999)}",
            f"Length of need: {r.choice(('12 months', '99 (lifetime)', '6 months'))}",
            "Medical necessity: unable to ambulate safely without device",
            f"Ordering physician signature ______  NPI {r.randint(10**9, 10**10 - 1)}",
        ]
    )


@pytest.mark.slow
def test_train_learns_the_offices_corrected_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A small corpus keeps this quick: 12 documents a type from the shipped one.
    corpus = read_corpus()
    small: list[Example] = []
    for doc_type in DOC_TYPES:
        small += [e for e in corpus if e.doc_type == doc_type and e.source == "ocr"][:6]
        small += [e for e in corpus if e.doc_type == doc_type and e.source == "text"][:6]
    write_corpus(small, tmp_path / "corpus.jsonl.gz")
    monkeypatch.setattr("chartclerk.classify.training.trainer.CORPUS_FILE", tmp_path / "corpus.jsonl.gz")

    models = tmp_path / "models"
    fresh = [ocr_noise(_equipment_order(900 + i), random.Random(i), 0.02) for i in range(10)]
    before_fresh = sum(
        classify_document(t, ClassifySettings(model_dir=models)).doc_type == "prescription" for t in fresh
    )
    office = [(f"Patient: QUILLFEATHER, ZENOBIA\n{_equipment_order(i)}", "prescription") for i in range(10)]
    report = retrain(office, models)
    assert report.model is not None and report.office_documents == 10 and report.folds == 5
    assert report.previous_model == SHIPPED_NAME
    assert report.accuracy_before is not None and report.accuracy_after is not None
    assert report.accuracy_after >= 0.9 and report.accuracy_after > report.accuracy_before
    assert current_model(models).name == report.model  # used from now on
    after_fresh = sum(
        classify_document(t, ClassifySettings(model_dir=models)).doc_type == "prescription" for t in fresh
    )
    assert after_fresh >= 9 and after_fresh > before_fresh
    assert classify_document(
        generate_document("lab_report", 5).text, ClassifySettings(model_dir=models)
    ).doc_type == ("lab_report")
    assert json.loads((models / f"{report.model}.json").read_text())["recipe"]["office_documents"] == 10
    with np.load(models / f"{report.model}.npz", allow_pickle=False) as saved:  # no office words in the file
        assert not any("quillfeather" in str(t) or "zenobia" in str(t) for t in saved["word_terms"])
        assert not any("quill" in str(t) for t in saved["char_terms"])


def test_nothing_to_learn_without_corrections(tmp_path: Path) -> None:
    report = retrain([], tmp_path / "models")
    assert report.model is None and report.previous_model == SHIPPED_NAME
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_archive_hands_back_corrected_documents(
    tmp_path: Path, settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    p = roster[0]
    lines = [f"Patient: {p.last.upper()}, {p.first.upper()}   MRN: {p.mrn}   DOB: {_us(p.dob)}"]
    blocks = [Block("para", (line,)) for line in lines + _wound_flowsheet(1).splitlines()]
    write_png(tmp_path / "wound.png", render_pages(blocks, Layout(point_size=12), 200)[0], dpi=200)
    [outcome] = ingest_files([tmp_path / "wound.png"], settings, archive, SerialExecutor())
    [doc] = outcome.documents
    assert archive.corrected_documents() == []
    typed = archive.get_document(doc.id)["type"]
    wanted = "consult_note" if typed != "consult_note" else "progress_note"  # a clerk's correction
    archive.file_document(doc.id, mrn=p.mrn, doc_type=wanted, loinc=LOINC[wanted], user="clerk")
    [(text, doc_type)] = archive.corrected_documents()
    assert doc_type == wanted and "FLOWSHEET" in text.upper()
    assert archive.audit_log()[-1].action == "train"  # reading the text is recorded


# --- the command line --------------------------------------------------------------------------------


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "chartclerk"), "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_classify_command_shows_three_types_and_the_words_that_weighed(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("archive: archive\nworkers: 1\n", encoding="utf-8")
    page = render_document("lab_report", None, seed=3, dpi=200, title=False).pages[0]
    write_png(tmp_path / "scan.png", page, dpi=200)
    result = _cli(config, "classify", str(tmp_path / "scan.png"), "--explain")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[0].startswith("scan.png p1-1: lab_report (LOINC 11502-2)")
        and f"model {SHIPPED_NAME}" in lines[0]
    )
    ranked = [line.split()[1] for line in lines if line.startswith(("  1.", "  2.", "  3."))]
    assert len(ranked) == 3 and ranked[0] == "lab_report" and len(set(ranked)) == 3
    assert len([line for line in lines if line.startswith("       ")]) == 3  # words for each of the three
    assert not (tmp_path / "archive").exists()  # nothing archived


def test_train_command_without_corrections_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("archive: archive\n", encoding="utf-8")
    result = _cli(config, "train")
    assert result.returncode == 0, result.stderr
    assert "no corrected documents yet" in result.stdout and SHIPPED_NAME in result.stdout
    assert not (tmp_path / "archive" / "models").exists()


# --- real clinical language, calibration, text far from every type -----------------------------------

# Written here, apart from the training templates and the benchmark's families.
_DICTATED_CONSULT = """\
REASON FOR CONSULTATION: Hematuria, seen at the request of Dr. Quimby.
HISTORY OF PRESENT ILLNESS: This 71-year-old retired machinist was kindly referred by Dr. Quimby because of
two episodes of painless gross hematuria last month. He is a former smoker. CT urogram was unremarkable
apart from a thickened left bladder wall.
PAST MEDICAL HISTORY: Hypertension, gout. MEDICATIONS: Amlodipine, allopurinol. ALLERGIES: None known.
SOCIAL HISTORY: Married, 45 pack-years, quit 2009. FAMILY HISTORY: Brother with bladder cancer.
PHYSICAL EXAMINATION: Pleasant gentleman. Abdomen benign. Prostate smooth, 30 grams.
IMPRESSION/PLAN: Gross hematuria in a former smoker; I recommend office cystoscopy and urine cytology and
will report the findings to Dr. Quimby. Thank you for this referral."""

_DICTATED_ADMISSION = """\
CHIEF COMPLAINT: Fever and confusion.
HISTORY OF PRESENT ILLNESS: 83-year-old woman from home brought by her son to the emergency department
with two days of fever, dysuria and new confusion. Lactate 3.1, urinalysis with pyuria. She is admitted
to the medical floor for sepsis from a urinary source.
PAST MEDICAL HISTORY: Dementia, atrial fibrillation, CKD. MEDICATIONS: Apixaban, donepezil.
ALLERGIES: Codeine. SOCIAL HISTORY: Lives with son. FAMILY HISTORY: Noncontributory.
REVIEW OF SYSTEMS: Constitutional positive for fever. Cardiac negative. Pulmonary negative. GI negative.
GU positive for dysuria. Neurologic positive for confusion. Skin negative. All other systems negative.
PHYSICAL EXAMINATION: T 38.9, HR 112, BP 98/60. Dry mucosa. Irregular rhythm. Suprapubic tenderness.
ASSESSMENT AND PLAN: Sepsis, urinary source: admit, blood and urine cultures, IV ceftriaxone, fluids.
Hold apixaban tonight. DVT prophylaxis not needed. Full code per son."""

_SOAP_VISIT = """\
S: Returns 6 weeks after starting metformin. Sugars at home 130s to 150s. No GI upset.
O: BP 128/76, weight down 3 lb. Feet without lesions.
A: Type 2 diabetes, improving. A1c 7.4 from 8.6.
P: Continue metformin 1000 mg twice daily. Recheck A1c in 3 months."""

_RECIPE = """\
Preheat the oven to 190 degrees. Cream the butter and sugar, beat in the eggs one at a time, then fold in
the flour and a pinch of salt. Pour into a lined tin and bake for forty minutes, until a skewer comes out
clean. Leave to cool before icing with lemon and powdered sugar."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_DICTATED_CONSULT, "consult_note"),
        (_DICTATED_ADMISSION, "history_physical"),
        (_SOAP_VISIT, "progress_note"),
    ],
)
def test_dictated_notes_without_titles_are_typed_by_who_asked_and_why(text: str, expected: str) -> None:
    """A consultation and an admission share their headings; the model decides by the
    requesting doctor and the admission, not by the sections."""
    result = classify_document(text, SETTINGS)
    assert result.doc_type == expected and result.confidence >= SETTINGS.min_confidence


def test_text_unlike_every_type_goes_to_review() -> None:
    model = current_model(None)
    result = model.classify(_RECIPE)
    assert result.confidence < SETTINGS.min_confidence
    [far, near] = model.familiarity([normalize_text(_RECIPE), normalize_text(_DICTATED_CONSULT)])
    assert far < 0.5 and near == 1.0


def test_temperature_is_fitted_by_likelihood() -> None:
    """Scores drawn from a softmax with temperature 0.25 give back about 0.25."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 1.0, size=(4000, 13))
    truth = np.array([rng.choice(13, p=np.exp(row / 0.25) / np.exp(row / 0.25).sum()) for row in logits])
    assert fit_temperature(logits, truth) == pytest.approx(0.25, rel=0.1)


def test_shipped_model_is_calibrated_on_notes_it_did_not_train_on() -> None:
    """Clinical-style notes of seeds the corpus does not hold: mean confidence within 0.05
    of accuracy (the benchmark measures on families written apart)."""
    model = current_model(None)
    types = clinical_types()
    notes = [clinical_note(t, 900_000 + i) for t in types for i in range(12)]
    rows = model.probabilities([ocr_noise(n.text, random.Random(i), 0.03) for i, n in enumerate(notes)])
    correct = np.array([DOC_TYPES[int(r.argmax())] == n.doc_type for r, n in zip(rows, notes, strict=True)])
    assert correct.mean() >= 0.9
    assert abs(float(rows.max(axis=1).mean()) - float(correct.mean())) <= 0.05


def test_every_clinical_template_style_writes_complete_notes() -> None:
    types = clinical_types()
    assert {"consult_note", "history_physical", "progress_note", "consent_form"} <= set(types)
    for doc_type in types:
        seen = set()
        for seed in range(60):
            note = clinical_note(doc_type, seed)
            assert note.doc_type == doc_type and note.text.strip()
            assert "{" not in note.text and "}" not in note.text  # every slot filled
            seen.add(note.style)
        assert seen == set(style_names(doc_type))
    assert clinical_note("consult_note", 7) == clinical_note("consult_note", 7)


def test_typing_a_document_never_imports_ocr_or_the_model_factory() -> None:
    code = (
        "import sys\n"
        "from chartclerk.classify import classify_document\n"
        "from chartclerk.settings import ClassifySettings\n"
        "classify_document('Progress note. Doing well.', ClassifySettings())\n"
        "up = ('chartclerk.ocr', 'chartclerk.classify.training')\n"
        "print(sorted(m for m in sys.modules if m.startswith(up)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_show_explain_gives_the_words_that_decided(
    tmp_path: Path, settings: Settings, archive: Archive, roster: list[FakePatient]
) -> None:
    p = roster[1]
    lines = [f"Patient: {p.last.upper()}, {p.first.upper()}   MRN: {p.mrn}   DOB: {_us(p.dob)}"]
    blocks = [Block("para", (line,)) for line in lines + _DICTATED_CONSULT.splitlines()]
    write_png(tmp_path / "consult.png", render_pages(blocks, Layout(point_size=11), 200)[0], dpi=200)
    [outcome] = ingest_files([tmp_path / "consult.png"], settings, archive, SerialExecutor())
    [doc] = outcome.documents
    result = _cli(tmp_path / "config.yaml", "show", str(doc.id), "--explain")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    [verdict] = [line for line in lines if line.startswith(f"document {doc.id}: ")]
    assert "consult_note" in verdict and f"model {SHIPPED_NAME}" in verdict
    ranked = [line.split()[1] for line in lines if line.startswith(("  1.", "  2.", "  3."))]
    assert ranked[0] == "consult_note" and len(set(ranked)) == 3
    words = lines[lines.index(next(line for line in lines if line.startswith("  1."))) + 1]
    assert "(" in words and any(w in words for w in ("consult", "referral", "recommend", "request"))
    shown = json.loads(_cli(tmp_path / "config.yaml", "show", str(doc.id), "--explain", "--json").stdout)
    assert (
        shown["explanation"]["top"][0]["type"] == "consult_note" and shown["explanation"]["top"][0]["words"]
    )


def test_cli_type_option_takes_the_one_list_of_types(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("archive: archive\n", encoding="utf-8")
    result = _cli(config, "list", "--type", "memo")
    assert result.returncode != 0 and "consult_note" in result.stderr
