from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chartclerk.errors import ConfigError
from chartclerk.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_validates_and_documents_every_key() -> None:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    Settings.model_validate(data)
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    for key in ("inbox", "archive", "database", "workers"):
        assert f"\n{key}:" in text
    defaults = Settings()
    for section in ("ingest", "ocr", "classify", "patients", "watch"):
        assert f"\n{section}:" in text
        for field in type(getattr(defaults, section)).model_fields:
            assert f"  {field}:" in text, f"{section}.{field} missing from config.yaml"


def test_four_keys_are_enough(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("inbox: in\narchive: arc\ndatabase: null\nworkers: 3\n", encoding="utf-8")
    s = load_settings(cfg)
    assert s.inbox == tmp_path / "in"
    assert s.archive == tmp_path / "arc"
    assert s.database_url == f"sqlite:///{tmp_path / 'arc' / 'chartclerk.db'}"
    assert s.workers == 3
    assert s.failed_dir == tmp_path / "failed"


def test_workers_default_to_cores(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("workers: null\n", encoding="utf-8")
    assert load_settings(cfg).workers >= 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("inbxo: x\n", "inbxo"),
        ("workers: 0\n", "workers"),
        ("ocr:\n  timeout_seconds: 1\n", "ocr.timeout_seconds"),
        ("classify:\n  min_confidence: 2\n", "classify.min_confidence"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, where: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=where):
        load_settings(cfg)


def test_named_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_env_names_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("workers: 5\n", encoding="utf-8")
    monkeypatch.setenv("CHARTCLERK_CONFIG", str(cfg))
    assert load_settings().workers == 5
