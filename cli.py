"""The `chartclerk` command: a thin layer over the library. Each command loads
the settings, opens the archive, calls one library function and prints.
Errors are turned into one clean line and an exit code here, and only here.

Heavy modules (OpenCV, pikepdf, the pipeline) are imported inside the commands
that need them, so `search` and `list` start fast.
"""

from __future__ import annotations

import getpass
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import typer

from chartclerk.errors import ChartclerkError, ExitCode
from chartclerk.log import configure_logging
from chartclerk.settings import Settings, load_settings

if TYPE_CHECKING:
    from chartclerk.pipeline import FileOutcome
    from chartclerk.store import Archive

app = typer.Typer(
    help="chartclerk: scan, straighten, read, type and file medical records into a searchable archive.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
patients_app = typer.Typer(help="The roster (master patient index).", no_args_is_help=True)
app.add_typer(patients_app, name="patients")

DocType = Literal[
    "face_sheet", "history_physical", "progress_note", "consult_note", "discharge_summary",
    "operative_report", "lab_report", "radiology_report", "referral", "consent_form", "prescription",
    "insurance", "other",
]  # fmt: skip
DOC_TYPES: tuple[str, ...] = get_args(DocType)
TypeOption = Annotated[DocType | None, typer.Option("--type", help="Document type, e.g. discharge_summary.")]
PatientOption = Annotated[str | None, typer.Option("--patient", help="Patient MRN.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the contract outside tools read).")]


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="CHARTCLERK_CONFIG", help="Config file (default ./config.yaml)."),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
    ] = 0,
) -> None:
    configure_logging(verbose)
    ctx.obj = config


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    config: Path | None = ctx.obj
    return load_settings(config, **overrides)


@contextmanager
def _archive(settings: Settings) -> Iterator[Archive]:
    from chartclerk.store import Archive

    archive = Archive.open(settings)
    try:
        yield archive
    finally:
        archive.close()


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@patients_app.command("import")
def patients_import(
    ctx: typer.Context,
    roster: Annotated[Path, typer.Argument(help="CSV with columns mrn,last,first,dob,sex.")],
) -> None:
    """Import or update the roster from a CSV file (ISO dates).

    Example: chartclerk patients import roster.csv
    """
    from chartclerk.classify import read_roster_csv

    settings = _settings(ctx)
    result = read_roster_csv(roster)
    with _archive(settings) as archive:
        count = archive.import_patients(result.patients)
    for error in result.errors:
        typer.echo(f"skipped {error}", err=True)
    typer.echo(f"imported {count} patients, skipped {len(result.errors)} rows")
    if result.errors and not count:
        raise typer.Exit(ExitCode.input_file)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = None,
) -> None:
    """Archive a backlog of scans: pages read in parallel, a summary at the end.
    Exit status 0 when every file was archived or already there.

    Example: chartclerk ingest /mnt/backlog/1998 --workers 2
    """
    from chartclerk.pipeline import ingest_files
    from chartclerk.workers import make_pool

    settings = _settings(ctx, workers=workers)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("pages"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        _archive(settings) as archive,
        make_pool(settings.workers) as pool,
        Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as bar,
    ):
        task = bar.add_task("pages", total=0)
        outcomes = ingest_files(paths, settings, archive, pool, _BarProgress(bar, task))
    _summarize(outcomes)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(ExitCode.some_files_failed)


class _BarProgress:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task, self.total = bar, task, 0

    def pages_added(self, count: int) -> None:
        self.total += count
        self.bar.update(self.task, total=self.total)

    def page_done(self) -> None:
        self.bar.advance(self.task)

    def file_done(self, outcome: FileOutcome) -> None:
        pass


def _summarize(outcomes: list[FileOutcome]) -> None:
    for o in outcomes:
        if o.status == "failed":
            typer.echo(f"FAILED {o.path}: {o.error}", err=True)
    docs = [d for o in outcomes for d in o.documents]
    count = {s: sum(o.status == s for o in outcomes) for s in ("archived", "duplicate", "failed")}
    typer.echo(
        f"{len(outcomes)} files: {count['archived']} archived, {count['duplicate']} already archived, "
        f"{count['failed']} failed; {sum(o.pages for o in outcomes if o.status == 'archived')} pages, "
        f"{len(docs)} documents ({sum(d.status == 'filed' for d in docs)} filed, "
        f"{sum(d.status == 'review' for d in docs)} to review)"
    )


@app.command()
def watch(
    ctx: typer.Context,
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="Folder to watch (default: config inbox).")
    ] = None,
) -> None:
    """Watch the inbox: take each file once it is completely written, archive it,
    then remove it from the inbox; failures go to failed/ with a .error.txt.

    Example: chartclerk watch --inbox /srv/scans/inbox
    """
    from chartclerk.ingest.watch import watch_inbox
    from chartclerk.pipeline import handle_inbox_file
    from chartclerk.workers import make_pool

    settings = _settings(ctx, inbox=inbox)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with _archive(settings) as archive, make_pool(settings.workers) as pool:

        def handle(path: Path) -> None:
            outcome = handle_inbox_file(path, settings, archive, pool)
            ids = ", ".join(str(d.id) for d in outcome.documents) or "-"
            detail = outcome.error if outcome.status == "failed" else f"documents {ids}"
            typer.echo(f"{outcome.status} {path.name}: {detail}")

        typer.echo(f"watching {settings.inbox} (Ctrl-C to stop)")
        watch_inbox(settings.inbox, settings.watch, handle, stop)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words to find; "double quotes" for a phrase.')],
    patient: PatientOption = None,
    doc_type: TypeOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most hits to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Full-text search, best hits first, with the page and a highlighted snippet.

    Example: chartclerk search "chest pain" --patient 00012345 --type discharge_summary
    """
    with _archive(_settings(ctx)) as archive:
        hits = archive.search(query, patient=patient, doc_type=doc_type, limit=limit)
    if as_json:
        _echo_json(
            [
                {"document_id": h.document_id, "page": h.page, "snippet": h.snippet, "score": h.score,
                 "type": h.doc_type, "patient_mrn": h.patient_mrn, "source": h.source}
                for h in hits
            ]
        )  # fmt: skip
        return
    for h in hits:
        typer.echo(f"doc {h.document_id} p{h.page} [{h.doc_type}] {h.patient_mrn or 'review'}: {h.snippet}")
    typer.echo(f"{len(hits)} hits")


@app.command("list")
def list_documents(
    ctx: typer.Context,
    patient: PatientOption = None,
    doc_type: TypeOption = None,
    status: Annotated[
        Literal["filed", "review"] | None, typer.Option("--status", help="filed or review.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List archived documents (all of them when no filter is given).

    Example: chartclerk list --status review
    """
    with _archive(_settings(ctx)) as archive:
        docs = archive.list_documents(patient=patient, doc_type=doc_type, status=status)
    if as_json:
        _echo_json(docs)
        return
    for d in docs:
        why = f" ({d['review_reason']})" if d.get("review_reason") else ""
        typer.echo(
            f"{d['id']:>6} {d['status']:<6} {d['type']:<18} {d['patient_mrn'] or '-':<12} "
            f"{d['source']} p{d['source_pages'][0]}-{d['source_pages'][1]}{why}"
        )
    typer.echo(f"{len(docs)} documents")


@app.command()
def show(
    ctx: typer.Context,
    doc_id: Annotated[int, typer.Argument(metavar="ID", help="Document id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one document with its pages' text.

    Example: chartclerk show 42 --json
    """
    with _archive(_settings(ctx)) as archive:
        doc = archive.get_document(doc_id, with_text=True)
    if as_json:
        _echo_json(doc)
        return
    for key in ("id", "source", "source_pages", "type", "loinc", "type_confidence", "patient_mrn", "status"):
        typer.echo(f"{key}: {doc[key]}")
    for page in doc["pages"]:
        typer.echo(
            f"\n--- page {page['number']} (skew {page['skew_degrees']}, "
            f"turned {page['rotation_degrees']}) ---"
        )
        typer.echo(page["text"])


@app.command()
def export(
    ctx: typer.Context,
    doc_id: Annotated[int, typer.Argument(metavar="ID", help="Document id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the searchable PDF.")],
) -> None:
    """Write a document's searchable PDF to a file.

    Example: chartclerk export 42 --out discharge.pdf
    """
    import shutil

    with _archive(_settings(ctx)) as archive:
        shutil.copyfile(archive.pdf_path(doc_id), out)
    typer.echo(f"wrote {out}")


@app.command("file")
def file_document(
    ctx: typer.Context,
    doc_id: Annotated[int, typer.Argument(metavar="ID", help="Document id.")],
    patient: Annotated[str, typer.Option("--patient", help="MRN of the patient the document belongs to.")],
    doc_type: TypeOption = None,
) -> None:
    """Resolve a review item by hand: file it to a patient (and correct its type).

    Example: chartclerk file 42 --patient 00012345 --type lab_report
    """
    from chartclerk.classify import LOINC

    with _archive(_settings(ctx)) as archive:
        doc = archive.file_document(
            doc_id, mrn=patient, doc_type=doc_type, loinc=LOINC.get(doc_type) if doc_type else None,
            user=getpass.getuser(),
        )  # fmt: skip
    typer.echo(f"document {doc['id']} filed ({doc['type']})")


def main() -> None:
    """Entry point: the one place errors become messages and exit codes (typer
    itself reports usage errors, with exit code 2)."""
    try:
        app()
    except ChartclerkError as e:
        typer.echo(f"error: {e.message}", err=True)
        sys.exit(int(e.exit_code))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(int(ExitCode.interrupted))


if __name__ == "__main__":
    main()
