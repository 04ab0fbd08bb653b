"""The forms-style training templates (classify/training/templates/forms/*.yaml): every file
loads, every slot a template names has a filler, and the documents are still the ones the
shipped model (doctype-v2, corpus-v2) was built from."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Any

import pytest
import yaml

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.training import forms
from chartclerk.classify.training.forms import data_files, generate_document, template_slots
from chartclerk.errors import ModelError

# sha256 of text, blocks and layout, computed with forms.py as it was before its wording moved
# into the data files (commit 5955431): a change here changes the training corpus.
PINNED = {
    ("face_sheet", 0): "b50b32b3deb872f76bd7d961a4bcfa79f42ba0761d53b1be4ff6ffa85f33b67b",
    ("history_physical", 3): "3e5e3e2455a776829c40a577994a3f7ade6788911ce72a87a5cc7b44db5ec1cf",
    ("consult_note", 7): "8abfcf199ad69c0d7ff514dc866adf323d8b903afd794a13558b3288dc533180",
    ("discharge_summary", 11): "fce72a5b67d00e350a87143cf3e2c68292c9f6e35c40e4b6a9fc81f06a11b5b2",
    ("lab_report", 5): "77085e06a94798f7e4ca4a1d40aaf0f763cce913e3aff0eb4fad42346fd74cf6",
    ("radiology_report", 2): "44a574a08bd9fd1848ddf32f0520213ae3fbc7e9bbdd3eb5d46eedd60572487a",
    ("referral", 19): "44e8f2f851a4a5cbf4b031ec322dc2f6700585cc186125f6e15c15e073f2f4ee",
    ("consent_form", 4): "c561e752f388706ba6c55e9d9e21a2ea8e237c678cc9c60cab856b880c5666c1",
    ("prescription", 8): "ef7fac14c704951f738cd7a61ab6ea8663ae10a238ba730be85ee0b9591db9d4",
    ("insurance", 13): "77be4288964892b6ebb92de92f1ed265b0021fa54a9ebab6d5dd38438f7e602a",
    ("other", 21): "23a3bc8134be494eef789adb76d0c5365ebfb014242f7e4ab7867c4fa0d6d1db",
    ("progress_note", 1): "0d9b7af0e35d9810beb7b6aa066a074c19ff294b6c9b65b6ed08c49fbf0adcdc",
    ("operative_report", 6): "bf6a084866a5f60465e523956832de417cc90d234644927823c376d565f19d9c",
}
BRACES = re.compile(r"\{([^{}]*)\}")


def _raw(name: str) -> Any:
    folder = resources.files("chartclerk.classify.training").joinpath("templates", "forms")
    return yaml.safe_load(folder.joinpath(f"{name}.yaml").read_text("utf-8"))


def _strings(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every string of a data file with the path of the list (or string) holding it."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, (*path, str(k)))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v, path)]
    return [(path, node)] if isinstance(node, str) else []


def test_every_type_has_its_file_and_the_pinned_cases_cover_every_type() -> None:
    assert data_files() == ("pools", *DOC_TYPES)
    assert {t for t, _ in PINNED} == set(DOC_TYPES)


@pytest.mark.parametrize(("doc_type", "seed"), sorted(PINNED))
def test_documents_are_byte_identical_to_the_ones_the_model_was_built_from(doc_type: str, seed: int) -> None:
    doc = generate_document(doc_type, seed)
    digest = hashlib.sha256(f"{doc.text}\n{doc.blocks!r}\n{doc.layout!r}".encode()).hexdigest()
    assert digest == PINNED[(doc_type, seed)]


def test_every_data_file_loads_and_every_slot_a_template_names_has_a_filler() -> None:
    slots = template_slots()
    used: set[str] = set()
    for name in data_files():
        data = _raw(name)
        assert isinstance(data, dict) and data, name
        if name != "pools":
            assert data["titles"] and all(isinstance(t, str) for t in data["titles"]), name
        for path, text in _strings(data):
            where = f"{name}:{'.'.join(path)}"
            # no stray brace: every { opens a slot that closes
            assert text.count("{") == text.count("}") == len(BRACES.findall(text)), (where, text)
            for slot in BRACES.findall(text):
                assert slot in slots.get(where, frozenset()), f"{where}: {text!r} names {{{slot}}}, no filler"
                used.add(where)
    # and every declaration is used: a renamed key would leave one behind
    assert set(slots) == used, sorted(set(slots) - used)


def test_yaml_did_not_turn_words_into_booleans_numbers_or_nulls() -> None:
    """`- yes`, `- No`, `- 1.0` or `- ~` unquoted would come back as another type."""
    pools = _raw("pools")
    for row in pools["analytes"]:
        analyte, unit, low, high, decimals = row
        assert isinstance(analyte, str) and isinstance(unit, str)
        assert type(low) is float and type(high) is float and type(decimals) is int
    assert all(isinstance(c, str) for row in pools["diagnoses"] + pools["medications"] for c in row)
    assert (
        "Yes" in _raw("referral")["form"]["records"]
        and "No" in _raw("insurance")["claim"]["accept_assignment"]
    )
    assert _raw("prescription")["refills"]["value"][:2] == ["0", "1"]


def test_every_exam_region_has_findings() -> None:
    findings = _raw("radiology_report")["findings"]
    assert {region for _, region in _raw("pools")["exams"]} <= set(findings)


def test_a_slot_without_a_filler_is_a_typed_error() -> None:
    with pytest.raises(ModelError, match="unknown slot"):
        forms._fill("Dear {nobody},", {"first": "Anna"}, "other:letter.greeting")
