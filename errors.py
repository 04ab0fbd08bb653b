"""The error hierarchy. Stages raise these; one boundary (the CLI, the watcher,
the batch runner) decides the exit code, quarantine or retry."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    ok = 0
    some_files_failed = 1
    usage = 2
    input_file = 3
    ocr = 4
    archive = 5
    config = 6
    missing_dependency = 7
    not_found = 8
    model = 9
    interrupted = 130


class ChartclerkError(Exception):
    """Base error: a one-line message fit for a clerk, and an exit code."""

    exit_code: ExitCode = ExitCode.some_files_failed

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputFileError(ChartclerkError):
    """The file cannot be read as a scan (empty, corrupt, encrypted, too large...)."""

    exit_code = ExitCode.input_file


class OcrError(ChartclerkError):
    """Tesseract failed or timed out on a page."""

    exit_code = ExitCode.ocr


class ArchiveError(ChartclerkError):
    """The archive (files or database) could not be written or read."""

    exit_code = ExitCode.archive


class NotFoundError(ChartclerkError):
    """A document or patient named on the command line does not exist."""

    exit_code = ExitCode.not_found


class ConfigError(ChartclerkError):
    """config.yaml is missing a value, has an unknown key or a value out of range."""

    exit_code = ExitCode.config


class MissingDependencyError(ChartclerkError):
    """An outside program (tesseract, pdftoppm) is not installed."""

    exit_code = ExitCode.missing_dependency


class ModelError(ChartclerkError):
    """The document-type model file is missing, damaged or made for another version."""

    exit_code = ExitCode.model


class RequestError(ChartclerkError):
    """A request for records that cannot be taken as given (past due date, empty scope, another
    patient's document...): nothing is written."""

    exit_code = ExitCode.usage
