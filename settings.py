"""config.yaml, read once into a validated, frozen model. Stages receive their
own sub-model; nothing else reads configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chartclerk.errors import ConfigError

ENV_CONFIG = "CHARTCLERK_CONFIG"
DEFAULT_CONFIG = Path("config.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Section):
    dpi: int = Field(300, ge=100, le=600, description="Resolution PDF pages are rasterized at.")
    max_page_pixels: int = Field(
        200_000_000,
        ge=1_000_000,
        le=2_000_000_000,
        description="Largest page image accepted (width x height); larger is refused (decompression bomb).",
    )
    max_pages: int = Field(5000, ge=1, le=100_000, description="Largest page count accepted in one file.")
    rasterize_timeout_seconds: int = Field(
        120, ge=5, le=3600, description="Time limit for rasterizing one page."
    )
    separator_code: str = Field(
        "PATCHT",
        min_length=1,
        max_length=64,
        description="Barcode/QR text of a separator sheet between documents.",
    )
    digital_text: Literal["use", "ocr"] = Field(
        "use",
        description="PDF pages that carry their own text: `use` takes it (and keeps the page as it is), "
        "`ocr` rasterizes and reads every page as a scan.",
    )


class OcrSettings(_Section):
    language: str = Field(
        "eng", pattern=r"^[A-Za-z_+]{3,64}$", description="Tesseract language(s), e.g. eng."
    )
    timeout_seconds: int = Field(180, ge=5, le=3600, description="Time limit for one tesseract call.")
    min_dpi: int = Field(
        250,
        ge=70,
        le=600,
        description="Pages scanned below this resolution are scaled up to `target_dpi` before OCR.",
    )
    target_dpi: int = Field(300, ge=150, le=600, description="Resolution low-resolution scans are scaled to.")
    orientation_check_confidence: float = Field(
        70.0,
        ge=0,
        le=100,
        description="OCR mean word confidence under which the page's orientation is double-checked with OSD.",
    )
    jpeg_quality: int = Field(
        80, ge=30, le=100, description="JPEG quality of page images in searchable PDFs."
    )


class ClassifySettings(_Section):
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="Documents whose type confidence is below this go to review."
    )
    model_dir: Path | None = Field(
        None,
        description="Folder of office models retrained by `chartclerk train` (the newest valid one is used, "
        "else the shipped model); null means <archive>/models.",
    )


class PatientSettings(_Section):
    min_match_score: float = Field(
        0.9, ge=0.5, le=1, description="A document is filed only to a patient scoring at least this."
    )
    min_margin: float = Field(
        0.1, ge=0, le=1, description="...and only when no other candidate scores within this margin."
    )


class WatchSettings(_Section):
    stable_seconds: float = Field(
        2.0, ge=0.1, le=600, description="A file is taken once its size and mtime are unchanged this long."
    )
    poll_interval_seconds: float = Field(
        0.5, ge=0.05, le=60, description="How often pending files are checked."
    )
    polling: bool = Field(False, description="Poll the folder instead of inotify (network shares).")


class WebSettings(_Section):
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=255,
        description="Address `chartclerk serve` listens on (loopback unless told otherwise).",
    )
    port: int = Field(8000, ge=1, le=65535, description="Port `chartclerk serve` listens on.")
    idle_timeout_minutes: int = Field(
        15, ge=1, le=240, description="A session unused this long ends (sign in again)."
    )
    absolute_timeout_hours: float = Field(
        12, ge=0.25, le=24, description="A session ends this long after sign-in, used or not."
    )
    max_failed_logins: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins for one user name within the lockout window that lock it.",
    )
    max_failed_logins_per_address: int = Field(
        20, ge=1, le=1000, description="Failed sign-ins from one address within the window that lock it."
    )
    lockout_minutes: int = Field(15, ge=1, le=1440, description="The lockout window.")
    max_upload_mb: int = Field(100, ge=1, le=2048, description="Largest file accepted by the upload page.")
    page_image_width: int = Field(
        1000, ge=300, le=3000, description="Width in pixels of page images in the viewer."
    )
    thumbnail_width: int = Field(160, ge=60, le=600, description="Width in pixels of page thumbnails.")
    results_per_page: int = Field(10, ge=1, le=100, description="Search results per page.")
    upload_workers: int = Field(
        1, ge=1, le=64, description="Worker processes reading uploaded scans (beside the watcher's)."
    )
    secure_cookies: bool | None = Field(
        None,
        description="Mark cookies Secure; null: when serving TLS itself (--certfile) or told by "
        "a proxy (X-Forwarded-Proto https is not trusted: set true behind a TLS proxy).",
    )


class ReleaseSettings(_Section):
    office_name: str = Field(
        "Medical Records Office",
        min_length=1,
        max_length=200,
        description="The office releasing records: cover letters and the FHIR custodian.",
    )
    office_address: str = Field(
        "", max_length=500, description="The office's postal address, printed on cover letters."
    )
    mr_system: str = Field(
        "urn:oid:2.16.840.1.113883.19.5",
        min_length=4,
        max_length=300,
        pattern=r"^(https?://|urn:)\S+$",
        description="FHIR identifier system URI of the office's medical record numbers (type MR).",
    )
    fhir_base_url: str = Field(
        "",
        max_length=300,
        description="Base URL written in exported DocumentReference attachments (.../Binary/ID); "
        "empty: relative `Binary/ID`.",
    )
    anchor_dir: Path | None = Field(
        None,
        description="Folder, outside the archive, where a checkpoint line (chain, entry, head hash) "
        "is appended on every audit and disclosure write; `verify` compares the database with it. "
        "null: <archive>/../anchors.",
    )
    access_days: int = Field(
        30, ge=1, le=90, description="Days to answer a patient's access request (45 CFR 164.524)."
    )
    extension_days: int = Field(
        30, ge=1, le=90, description="Days one recorded extension adds to an access request."
    )
    accounting_years: int = Field(
        6, ge=1, le=20, description="How far back the accounting of disclosures reaches (164.528)."
    )


class DistributedSettings(_Section):
    """Celery page jobs (used when ``broker`` is set; chartclerk.distributed)."""

    visibility_timeout_seconds: int = Field(
        3600,
        ge=5,
        le=86400,
        description="Redis redelivers a page job not acknowledged after this long: keep it above the "
        "longest page job (rasterize and OCR time limits).",
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Deliveries a page may start (kill its worker), and assemblies a file may start, "
        "before its file fails.",
    )
    poll_seconds: float = Field(
        0.2,
        ge=0.01,
        le=10,
        description="How often the submitting process looks for finished pages and files.",
    )
    resend_seconds: float = Field(
        300,
        ge=1,
        le=86400,
        description="A file none of whose pages moved for this long has its still-queued pages sent again "
        "(a message the broker lost), or one page when all are read and the file is not assembled.",
    )


class DeficiencySettings(_Section):
    work_dpi: int = Field(
        150,
        ge=75,
        le=300,
        description="Resolution digital pages are rendered at to look for signatures; scanned pages are "
        "looked at in their own pixels (shrunk to 300 dpi when finer).",
    )
    require_history_physical: bool = Field(
        True, description="An admission (a discharge summary's admission date) needs a history and physical."
    )
    history_physical_days_before: int = Field(
        30, ge=0, le=365, description="An H&P counts when done at most this many days before admission (CMS)."
    )
    history_physical_hours_after: int = Field(
        24, ge=1, le=720, description="... or at most this many hours after it (CMS: 24)."
    )
    require_discharge_summary: bool = Field(
        True, description="An admission (an H&P's date) needs a discharge summary once the record is due."
    )
    record_complete_days: int = Field(
        30, ge=1, le=365, description="Days after discharge by which the record must be complete (CMS: 30)."
    )
    require_consent_for_operation: bool = Field(
        True, description="An operative report needs a consent signed before the procedure."
    )
    consent_days_before: int = Field(
        60, ge=1, le=730, description="A consent counts when signed at most this many days before surgery."
    )


class Settings(_Section):
    inbox: Path = Field(Path("inbox"), description="Folder the watcher takes new scans from.")
    archive: Path = Field(Path("archive"), description="Folder originals, PDFs and the database live in.")
    database: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<archive>/chartclerk.db."
    )
    broker: str | None = Field(
        None,
        description="Celery broker URL (redis://host:6379/0, or amqp:// for RabbitMQ): ingest and watch "
        "send page jobs to `chartclerk worker` processes; null: a local process pool.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=256,
        description="Worker processes for OCR (default: all cores).",
    )
    ingest: IngestSettings = IngestSettings()
    ocr: OcrSettings = OcrSettings()
    classify: ClassifySettings = ClassifySettings()
    patients: PatientSettings = PatientSettings()
    watch: WatchSettings = WatchSettings()
    web: WebSettings = WebSettings()
    release: ReleaseSettings = ReleaseSettings()
    distributed: DistributedSettings = DistributedSettings()
    deficiencies: DeficiencySettings = DeficiencySettings()

    @field_validator("workers", mode="before")
    @classmethod
    def _default_workers(cls, v: Any) -> Any:
        return os.cpu_count() or 1 if v is None else v

    @property
    def database_url(self) -> str:
        assert self.database is not None
        return self.database

    @property
    def failed_dir(self) -> Path:
        """Quarantine for inbox files that could not be archived, beside the inbox."""
        return self.inbox.parent / "failed"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the config file. Relative paths in it are taken from the
    file's folder. Without a file (and none named), defaults apply."""
    named = path is not None or ENV_CONFIG in os.environ
    cfg_path = Path(path) if path is not None else Path(os.environ.get(ENV_CONFIG, DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    base = Path.cwd()
    if cfg_path.is_file():
        try:
            loaded = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{cfg_path}: cannot read YAML: {_one_line(str(e))}") from e
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{cfg_path}: expected a mapping of keys at the top level")
        data = loaded or {}
        base = cfg_path.resolve().parent
    elif named:
        raise ConfigError(f"config file not found: {cfg_path}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{cfg_path}: {where}: {first['msg']}") from e
    return _resolve_paths(settings, base)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    inbox = settings.inbox if settings.inbox.is_absolute() else base / settings.inbox
    archive = settings.archive if settings.archive.is_absolute() else base / settings.archive
    database = settings.database or f"sqlite:///{archive / 'chartclerk.db'}"
    model_dir = settings.classify.model_dir or archive / "models"
    model_dir = model_dir if model_dir.is_absolute() else base / model_dir
    classify = settings.classify.model_copy(update={"model_dir": model_dir})
    anchor_dir = settings.release.anchor_dir or archive.parent / "anchors"
    anchor_dir = anchor_dir if anchor_dir.is_absolute() else base / anchor_dir
    release = settings.release.model_copy(update={"anchor_dir": anchor_dir})
    return settings.model_copy(
        update={
            "inbox": inbox,
            "archive": archive,
            "database": database,
            "classify": classify,
            "release": release,
        }
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
