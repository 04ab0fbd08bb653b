"""The `chartclerk` command: a thin layer over the library. Each command loads
the settings, opens the archive, calls one library function and prints.
Errors are turned into one clean line and an exit code here, and only here.

Heavy modules (OpenCV, pikepdf, the pipeline) are imported inside the commands
that need them, so `search` and `list` start fast.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.errors import ChartclerkError, ExitCode
from chartclerk.log import configure_logging
from chartclerk.settings import Settings, load_settings

if TYPE_CHECKING:
    from chartclerk.classify.model import Explanation
    from chartclerk.pipeline import FileOutcome
    from chartclerk.store import Archive
    from chartclerk.store.audit import Actor

app = typer.Typer(
    help="chartclerk: scan, straighten, read, type and file medical records into a searchable archive.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
patients_app = typer.Typer(help="The roster (master patient index).", no_args_is_help=True)
app.add_typer(patients_app, name="patients")
users_app = typer.Typer(help="People who sign in to the web app (chartclerk serve).", no_args_is_help=True)
app.add_typer(users_app, name="users")
deficiencies_app = typer.Typer(no_args_is_help=False)  # help: the callback's docstring
app.add_typer(deficiencies_app, name="deficiencies")


def _doc_type(value: str | None) -> str | None:
    """--type takes one of the 13 document types (the one list: classify.DOC_TYPES)."""
    if value is not None and value not in DOC_TYPES:
        raise typer.BadParameter(f"{value!r} is not a document type: {', '.join(DOC_TYPES)}")
    return value


TypeOption = Annotated[
    str | None,
    typer.Option("--type", callback=_doc_type, help=f"Document type: {', '.join(DOC_TYPES)}."),
]
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
    user: Annotated[
        str | None,
        typer.Option("--user", envvar="CHARTCLERK_USER", help="Who is at the keyboard, for the audit log."),
    ] = None,
) -> None:
    configure_logging(verbose)
    ctx.obj = config
    _invoker.set((user, f"chartclerk {ctx.invoked_subcommand or ''}".strip()))


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    config: Path | None = ctx.obj
    return load_settings(config, **overrides)


# (--user or None, the command) as given to the root callback.
_invoker: contextvars.ContextVar[tuple[str | None, str]] = contextvars.ContextVar(
    "chartclerk_invoker", default=(None, "chartclerk")
)


def _actor() -> Actor:
    """Who runs this command (``--user`` or the OS user) and from where, for the audit log."""
    from chartclerk.store.audit import current_actor

    user, program = _invoker.get()
    return current_actor(user, program=program)


@contextmanager
def _archive(settings: Settings) -> Iterator[Archive]:
    from chartclerk.store import Archive

    archive = Archive.open(settings, actor=_actor())
    try:
        yield archive
    finally:
        archive.close()


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@patients_app.command("import")
def patients_import(
    ctx: typer.Context,
    roster: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns mrn,last,first,dob[,sex] and optionally member_ids, accounts, "
            "previous_mrns, aliases (several values in a cell separated by ';')."
        ),
    ],
) -> None:
    """Import or update the roster from a CSV file (ISO dates). Optional columns give other
    identifiers matching uses as it uses the MRN (insurance member IDs, account numbers, MRNs
    merged into this one) and former names ("LAST, FIRST"); a patient listed with some has its
    earlier ones replaced.

    Example: chartclerk patients import roster.csv
    """
    from chartclerk.classify import read_roster_csv

    settings = _settings(ctx)
    result = read_roster_csv(roster)
    with _archive(settings) as archive:
        count = archive.import_patients(result.patients)
    for error in result.errors:
        typer.echo(f"skipped {error}", err=True)
    extra = sum(bool(p.identifiers or p.aliases) for p in result.patients)
    typer.echo(
        f"imported {count} patients ({extra} with member IDs, account numbers, previous MRNs or "
        f"former names), skipped {len(result.errors)} rows"
    )
    if result.errors and not count:
        raise typer.Exit(ExitCode.input_file)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = None,
    stats: Annotated[
        Path | None, typer.Option("--stats", help="Write seconds per stage and counts to this JSON file.")
    ] = None,
) -> None:
    """Archive a backlog of scans: pages read in parallel, a summary at the end.
    Exit status 0 when every file was archived or already there.

    Example: chartclerk ingest /mnt/backlog/1998 --workers 2
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from chartclerk.timing import add_times
    from chartclerk.workers import make_executor

    settings = _settings(ctx, workers=workers)
    started = time.perf_counter()
    columns = (TextColumn("pages"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with make_executor(settings) as pool:  # first: the workers' imports overlap ours
        from chartclerk.pipeline import ingest_files

        with (
            _archive(settings) as archive,
            Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as bar,
        ):
            task = bar.add_task("pages", total=0)
            archive.recover()  # what a crashed run left behind, when no other process is in the archive
            outcomes = ingest_files(paths, settings, archive, pool, _BarProgress(bar, task))
    _summarize(outcomes)
    if stats is not None:
        report = {
            "wall_seconds": round(time.perf_counter() - started, 3),
            "workers": settings.workers,
            "files": len(outcomes),
            "pages": sum(o.pages for o in outcomes if o.status == "archived"),
            "stage_seconds": {k: round(v, 3) for k, v in add_times(o.times for o in outcomes).items()},
        }
        stats.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
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
    from chartclerk.pipeline import handle_inbox_files
    from chartclerk.workers import make_executor

    settings = _settings(ctx, inbox=inbox)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with _archive(settings) as archive, make_executor(settings) as pool:
        archive.recover()  # what a crashed run left behind, when no other process is in the archive

        def handle(paths: list[Path]) -> None:
            for outcome in handle_inbox_files(paths, settings, archive, pool):
                ids = ", ".join(str(d.id) for d in outcome.documents) or "-"
                detail = outcome.error if outcome.status == "failed" else f"documents {ids}"
                typer.echo(f"{outcome.status} {outcome.path.name}: {detail}")

        typer.echo(f"watching {settings.inbox} (Ctrl-C to stop)")
        # Files ready together are read side by side: as many as there are pages in flight.
        watch_inbox(settings.inbox, settings.watch, handle, stop, batch=2 * settings.workers)


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
    superseded: Annotated[
        bool, typer.Option("--superseded", help="Also superseded documents (another scan was kept).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List archived documents (all of them when no filter is given).

    Example: chartclerk list --status review
    """
    with _archive(_settings(ctx)) as archive:
        docs = archive.list_documents(
            patient=patient, doc_type=doc_type, status=status, superseded=superseded
        )
    if as_json:
        _echo_json(docs)
        return
    for d in docs:
        why = f" ({d['review_reason']})" if d.get("review_reason") else ""
        if d.get("superseded_by") is not None:
            why += f" (superseded by #{d['superseded_by']})"
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
    explain: Annotated[
        bool,
        typer.Option("--explain", help="The three likeliest types and the words that decided."),
    ] = False,
) -> None:
    """Show one document with its pages' text; with --explain, why it has its type.

    Example: chartclerk show 42 --explain
    """
    from chartclerk.store.deficiencies import document_findings

    settings = _settings(ctx)
    with _archive(settings) as archive:
        doc = archive.get_document(doc_id, with_text=True)
        doc["deficiencies"] = document_findings(archive, doc_id)
        if explain:
            from chartclerk.doctypes import explain_document

            found = explain_document(doc, settings)
    if as_json:
        if explain:
            doc["explanation"] = _explanation_json(found)
        _echo_json(doc)
        return
    for key in ("id", "source", "source_pages", "type", "loinc", "type_confidence", "patient_mrn", "status"):
        typer.echo(f"{key}: {doc[key]}")
    if doc.get("duplicate_of") is not None:
        typer.echo(
            f"possible duplicate of: #{doc['duplicate_of']} (similarity {doc['duplicate_similarity']:.2f})"
        )
    if doc.get("superseded_by") is not None:
        typer.echo(f"superseded by: #{doc['superseded_by']}")
    if explain:
        typer.echo("")
        _echo_explanation(f"document {doc_id}", found, settings.classify.min_confidence, words=True)
        if found.classification.doc_type != doc["type"]:
            typer.echo(f"  (filed as {doc['type']}: typed by an earlier model or corrected by a clerk)")
    for page in doc["pages"]:
        source = "text from the file" if page.get("text_source") == "file" else "text by OCR"
        typer.echo(
            f"\n--- page {page['number']} ({source}, skew {page['skew_degrees']}, "
            f"turned {page['rotation_degrees']}) ---"
        )
        typer.echo(page["text"])
    if doc["deficiencies"]:
        typer.echo("\n--- deficiencies ---")
        for f in doc["deficiencies"]:
            typer.echo(_finding_line(f))


@app.command()
def export(
    ctx: typer.Context,
    doc_id: Annotated[int, typer.Argument(metavar="ID", help="Document id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the searchable PDF.")],
) -> None:
    """Write a document's searchable PDF to a file.

    Example: chartclerk export 42 --out discharge.pdf
    """
    with _archive(_settings(ctx)) as archive:
        archive.export_document(doc_id, out)
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
            user=archive.actor.user,
        )  # fmt: skip
    typer.echo(f"document {doc['id']} filed ({doc['type']})")


@app.command()
def duplicate(
    ctx: typer.Context,
    doc_id: Annotated[
        int, typer.Argument(metavar="ID", help="A document marked `possible duplicate of #N`.")
    ],
    keep: Annotated[
        Literal["both", "this", "other"],
        typer.Option("--keep", help="both (different papers), this (#N is superseded) or other (ID is)."),
    ],
) -> None:
    """Resolve a possible duplicate scan: keep both, or mark one superseded (kept, hidden
    from the chart and from search; `list --superseded` shows it).

    Example: chartclerk duplicate 43 --keep other
    """
    with _archive(_settings(ctx)) as archive:
        done = archive.resolve_duplicate(doc_id, keep=keep, user=archive.actor.user)
    typer.echo(f"document {doc_id}: kept {keep} (documents {done['documents']})")


@app.command()
def review(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The clerk's work list: each document in review, why, and the roster patients it may
    belong to (MRN, score, name, DOB), best first. Resolve one with `chartclerk file`.

    Example: chartclerk review --json
    """
    from chartclerk.store.review import review_queue

    with _archive(_settings(ctx)) as archive:
        items = review_queue(archive)
    if as_json:
        _echo_json([item.as_dict() for item in items])
        return
    for item in items:
        d = item.document
        pages = f"p{d['source_pages'][0]}-{d['source_pages'][1]}"
        typer.echo(f"{d['id']:>6} {d['type']:<18} {d['source']} {pages}: {d['review_reason']}")
        for c in item.candidates:
            p = c.patient
            who = f"{p.last.upper()}, {p.first}  DOB {p.dob.isoformat()}  {p.sex}" if p else "(not in roster)"
            typer.echo(f"         {c.mrn:<12} {c.score:.2f}  {who}")
    typer.echo(f"{len(items)} documents to review; resolve one with: chartclerk file ID --patient MRN")


@app.command()
def coversheet(
    ctx: typer.Context,
    mrn: Annotated[str, typer.Argument(metavar="MRN", help="The patient's MRN (leading zeros optional).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the printable PDF.")],
) -> None:
    """Print a patient cover sheet: the code MRN:<mrn> as a QR code and a barcode, with the
    patient's name and DOB in clear text. Scanned on top of a patient's documents, it files
    every following document of the batch to that patient, up to the next cover sheet.

    Example: chartclerk coversheet 00012345 --out sheet.pdf
    """
    from chartclerk.errors import NotFoundError
    from chartclerk.ingest.coversheet import cover_sheet_for, render_cover_sheet
    from chartclerk.store.pdf import write_image_pdf

    with _archive(_settings(ctx)) as archive:
        patient = archive.roster.by_mrn(mrn)
        if patient is None:
            raise NotFoundError(f"no patient with MRN {mrn} in the roster")
        archive.record_access("coversheet", {"to": str(out.absolute())}, [patient.mrn])
    write_image_pdf(render_cover_sheet(cover_sheet_for(patient)), 300, out, title="Patient cover sheet")
    typer.echo(f"wrote {out}")


@app.command()
def audit(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option("--patient", help="Only entries touching this MRN.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries at or after this date (YYYY-MM-DD, UTC).")
    ] = None,
    check: Annotated[bool, typer.Option("--verify", help="Check the hash chain instead of listing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show who read or changed patient records (search, list, show, export, file), when and
    from where; --verify checks that no entry was altered or deleted.

    Example: chartclerk audit --patient 00012345 --since 2024-01-01
    """
    with _archive(_settings(ctx)) as archive:
        if check:
            report = archive.verify_audit()
            for problem in report.problems:
                typer.echo(f"PROBLEM {problem}", err=True)
            state = "intact" if report.ok else "BROKEN"
            typer.echo(f"{report.entries} audit entries, head {report.head}: {state}")
            if not report.ok:
                raise typer.Exit(ExitCode.archive)
            return
        entries = archive.audit_log(patient=patient, since=_parse_since(since))
    if as_json:
        _echo_json([e.as_dict() for e in entries])
        return
    for e in entries:
        what = json.dumps(dict(e.target), ensure_ascii=False, sort_keys=True)
        mrns = ",".join(e.patients) or "-"
        typer.echo(f"{e.id:>6} {e.at.isoformat()} {e.user} {e.action} {what} patients={mrns} [{e.origin}]")
    typer.echo(f"{len(entries)} entries")


def _parse_since(since: str | None) -> dt.datetime | None:
    if since is None:
        return None
    try:
        when = dt.datetime.fromisoformat(since)
    except ValueError as e:
        raise typer.BadParameter("expected a date like 2024-01-31", param_hint="--since") from e
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="Page processes (default: config workers)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Celery node name (default: random@host).")
    ] = None,
) -> None:
    """Read pages sent by ingest and watch through the broker (config `broker`), until stopped.
    Run it on any machine that reaches the broker and the database and mounts the archive
    folder at the same path.

    Example: chartclerk worker --concurrency 4
    """
    from chartclerk.distributed import run_worker

    settings = _settings(ctx)
    if settings.broker is None:
        typer.echo("error: no broker in the config (broker: redis://host:6379/0)", err=True)
        raise typer.Exit(ExitCode.config)
    with _archive(settings):
        pass  # creates or upgrades the schema before the first page job
    run_worker(settings, concurrency or settings.workers, name)


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Page jobs of distributed ingest: queued, in flight, done and failed per worker, files
    reading, assembling and finished, and the jobs waiting in the broker, so an operator sees a
    backlog drain.

    Example: chartclerk status
    """
    import dataclasses

    from chartclerk.distributed import queue_status

    settings = _settings(ctx)
    with _archive(settings) as archive:
        report = queue_status(settings, archive.engine)
    if as_json:
        _echo_json(dataclasses.asdict(report))
        return
    waiting = "unknown (broker unreachable)" if report.waiting_in_broker is None else report.waiting_in_broker
    typer.echo(f"waiting in the broker: {waiting if settings.broker else 'no broker configured'}")
    typer.echo(f"{'worker':<40} {'queued':>8} {'running':>8} {'done':>8} {'failed':>8}")
    for w in report.workers:
        typer.echo(f"{w.worker:<40} {w.queued:>8} {w.running:>8} {w.done:>8} {w.failed:>8}")
    typer.echo("files: " + (", ".join(f"{n} {state}" for state, n in report.files.items()) or "none"))


@app.command()
def verify(ctx: typer.Context) -> None:
    """Check the archive: every original and searchable PDF against its SHA-256, every document's
    files, pages and index entries, no file without a document, private permissions, the audit
    and disclosure chains and their checkpoints outside the database. Prints each problem;
    exits 5 if there is any.

    Example: chartclerk verify
    """
    with _archive(_settings(ctx)) as archive:
        report = archive.verify()
    for problem in report.problems:
        typer.echo(f"PROBLEM {problem}")
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"{report.sources} sources, {report.documents} documents, {report.pages} pages, "
        f"{report.files_hashed} files hashed, {report.audit_entries} audit entries: "
        f"{len(report.problems)} problems"
    )
    if not report.ok:
        raise typer.Exit(ExitCode.archive)


@app.command("classify")
def classify_scan(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A scan: PDF, TIFF, PNG or JPEG.")],
    explain: Annotated[
        bool, typer.Option("--explain", help="The words that weighed most for each of the three types.")
    ] = False,
) -> None:
    """Read a scan (nothing is archived) and show its three likeliest document types with
    their confidences and the words that weighed most, so a clerk can see why.

    Example: chartclerk classify scan.pdf --explain
    """
    from chartclerk.doctypes import classify_file
    from chartclerk.workers import make_pool

    settings = _settings(ctx)
    with make_pool(min(settings.workers, 2)) as pool:
        results = classify_file(path, settings, pool)
    for result in results:
        first, last = result.source_pages
        _echo_explanation(
            f"{path.name} p{first}-{last}", result.explanation, settings.classify.min_confidence, explain
        )


def _echo_explanation(label: str, found: Explanation, min_confidence: float, words: bool) -> None:
    """The best type with its confidence and verdict, then the three likeliest types, each
    with the words that weighed most for it (only for the first unless ``words``)."""
    best = found.classification
    verdict = "review: low type confidence" if best.confidence < min_confidence else "confident"
    typer.echo(
        f"{label}: {best.doc_type} (LOINC {best.loinc}) {best.confidence:.2f}, "
        f"{verdict} [model {found.model}, {found.known_words} known words]"
    )
    for rank, evidence in enumerate(found.top, start=1):
        typer.echo(f"  {rank}. {evidence.doc_type:<18} {evidence.probability:.2f}")
        if words or rank == 1:
            shown = ", ".join(f"{w} ({weight:.2f})" if words else w for w, weight in evidence.words)
            typer.echo(f"       {shown or '(no words for it)'}")


def _explanation_json(found: Explanation) -> dict[str, Any]:
    return {
        "model": found.model,
        "known_words": found.known_words,
        "type": found.classification.doc_type,
        "confidence": found.classification.confidence,
        "top": [
            {"type": e.doc_type, "probability": e.probability, "words": [[w, x] for w, x in e.words]}
            for e in found.top
        ],
    }


@app.command()
def train(ctx: typer.Context) -> None:
    """Retrain the document-type model on the shipped corpus plus every document a clerk
    re-typed (`chartclerk file ID --type T`), so it adapts to the office's own forms.
    Reports accuracy on those documents before and after (cross-validated); the new model
    goes to <archive>/models and is used from then on.

    Example: chartclerk train
    """
    from chartclerk.doctypes import train_from_archive

    settings = _settings(ctx)
    with _archive(settings) as archive:
        report = train_from_archive(archive, settings)
    if report.model is None:
        typer.echo(f"no corrected documents yet: nothing to learn, model {report.previous_model} stays")
        return

    def share(value: float | None) -> str:
        return "n/a (too few documents)" if value is None else f"{value:.3f}"

    typer.echo(
        f"trained {report.model} on {report.corpus_documents} corpus documents and "
        f"{report.office_documents} corrected office documents in {report.seconds:.0f} s"
    )
    typer.echo(f"accuracy on the corrected documents: before {share(report.accuracy_before)} "
               f"(model {report.previous_model}), after {share(report.accuracy_after)} "
               f"({report.folds}-fold cross-validated)")  # fmt: skip


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: config web.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: config web.port, 8000).")
    ] = None,
    certfile: Annotated[
        Path | None, typer.Option("--certfile", help="TLS certificate (PEM): serve HTTPS.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option("--keyfile", help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the clerk's web app: search, the document viewer, patient charts, the review queue,
    uploads, the audit log (auditors) and users (admins). Listens on loopback unless told
    otherwise; put it behind a TLS proxy or give --certfile/--keyfile.

    Example: chartclerk serve --host 127.0.0.1 --port 8000
    """
    from chartclerk.web import serve as serve_app

    settings = _settings(ctx)
    if (certfile is None) != (keyfile is None):
        raise typer.BadParameter("give both --certfile and --keyfile", param_hint="--certfile")
    where = host or settings.web.host
    scheme = "https" if certfile else "http"
    if (
        where not in ("127.0.0.1", "::1", "localhost")
        and certfile is None
        and not settings.web.secure_cookies
    ):
        typer.echo(
            f"warning: serving plain HTTP on {where}: passwords and records cross the network unencrypted; "
            "give --certfile/--keyfile or put a TLS proxy in front (README: Web app)",
            err=True,
        )
    with _users(ctx) as (users, _):
        if not users.list():
            typer.echo(
                "no users yet: add the first one with `chartclerk users add NAME --role admin` "
                "(and clerks with --role clerk) to sign in",
                err=True,
            )
    shown = f"[{where}]" if ":" in where else where
    typer.echo(f"chartclerk web app at {scheme}://{shown}:{port or settings.web.port}/ (Ctrl-C to stop)")
    serve_app(settings, where, port or settings.web.port, certfile, keyfile)


RoleOption = Annotated[
    Literal["clerk", "auditor", "admin"],
    typer.Option("--role", help="clerk (search, view, file, upload), auditor (audit log) or admin (users)."),
]


@contextmanager
def _users(ctx: typer.Context) -> Iterator[tuple[Any, Archive]]:
    from chartclerk.store.db import write_engine
    from chartclerk.store.users import UserStore

    with _archive(_settings(ctx)) as archive:
        yield UserStore(archive.engine, write_engine(archive.engine)), archive


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name (a-z, 0-9, . _ -).")],
    role: RoleOption,
    one_time: Annotated[
        bool, typer.Option("--one-time", help="Print a one-time password instead of asking for one.")
    ] = False,
) -> None:
    """Add a user of the web app. Asks for the password (12 characters or more), or prints a
    one-time password (with --one-time, or when not at a terminal) that must be changed at the
    first sign-in.

    Example: chartclerk users add maria --role clerk
    """
    password = None
    if not one_time and sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _users(ctx) as (store, archive):
        user, secret = store.add(name, role, password)
        archive.record_access("user add", {"user": user.name, "role": user.role}, [])
    typer.echo(f"added {user.name} ({user.role})")
    if secret:
        typer.echo(f"one-time password (to be changed at first sign-in): {secret}")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the web app's users with their role and state.

    Example: chartclerk users list --json
    """
    with _users(ctx) as (store, _):
        users = store.list()
    if as_json:
        _echo_json([u.as_dict() for u in users])
        return
    for u in users:
        state = "disabled" if u.disabled else "must change password" if u.must_change else "active"
        typer.echo(f"{u.name:<20} {u.role:<8} {state}")
    typer.echo(f"{len(users)} users")


@users_app.command("disable")
def users_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="User name.")]
) -> None:
    """Disable a user: they cannot sign in, and their open sessions end now.

    Example: chartclerk users disable maria
    """
    with _users(ctx) as (store, archive):
        user = store.disable(name)
        archive.record_access("user disable", {"user": user.name}, [])
    typer.echo(f"disabled {user.name}; their sessions have ended")


@users_app.command("reset")
def users_reset(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="User name.")]
) -> None:
    """Give a user a new one-time password (printed; changed at the next sign-in), enable them
    again, end their sessions and lift a lockout.

    Example: chartclerk users reset maria
    """
    with _users(ctx) as (store, archive):
        secret = store.reset(name)
        archive.record_access("user reset", {"user": name.strip().lower()}, [])
    typer.echo(f"one-time password for {name.strip().lower()}: {secret}")


# -- release of information (chartclerk.store.release, .disclosures, .fhir) -------------------------

release_app = typer.Typer(help="Requests for records and their release packets.", no_args_is_help=True)
app.add_typer(release_app, name="release")
fhir_app = typer.Typer(help="HL7 FHIR R4 (US Core) export of the archive.", no_args_is_help=True)
app.add_typer(fhir_app, name="fhir")
Basis = Literal[
    "access", "authorization", "treatment", "payment", "operations", "legal", "public-health",
    "law-enforcement", "research", "oversight", "decedent", "workers-comp", "other",
]  # fmt: skip


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter("expected a date like 2024-01-31", param_hint=option) from e


def _echo_request(r: Any) -> None:
    scope = r.scope
    what = (
        f"documents {','.join(map(str, scope.documents))}"
        if scope.documents
        else f"types {','.join(scope.types) or 'all'} {scope.date_from or '...'} to {scope.date_to or '...'}"
    )
    if scope.include_restricted:
        what += " incl. restricted"
    extra = (
        f" ({r.status_reason})"
        if r.status_reason
        else f" (extended: {r.extension_reason})"
        if r.extension_reason
        else ""
    )
    typer.echo(
        f"{r.id:>5} {r.status:<9} due {r.due_on} {r.basis:<13} MRN {r.patient_mrn} "
        f"from {r.requester} [{what}]{extra}"
    )


@release_app.command("new")
def release_new(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option("--patient", help="The patient's MRN.")],
    requester: Annotated[str, typer.Option("--requester", help="Who asks (a person or an office).")],
    address: Annotated[str, typer.Option("--address", help="Where the records go (postal address).")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why, as the request states it.")],
    basis: Annotated[
        Basis, typer.Option("--basis", help="Legal basis: access (the patient), authorization...")
    ],
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Document types in scope (repeat; default all).")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Documents dated on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Documents dated on or before (YYYY-MM-DD).")
    ] = None,
    documents: Annotated[
        list[int] | None, typer.Option("--document", help="Chosen document ids instead (repeat).")
    ] = None,
    include_restricted: Annotated[
        bool, typer.Option("--include-restricted", help="Release restricted documents too (Part 2 consent).")
    ] = False,
    received: Annotated[str | None, typer.Option("--received", help="Date received (default today).")] = None,
    due: Annotated[str | None, typer.Option("--due", help="Due date (default: received + 30 days).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a request for records: who asks, for which patient, why, on what legal basis,
    and its scope (types and dates, or chosen documents).

    Example: chartclerk release new --patient 00012345 --requester "Dr. Ames" --address "1 Main St,
    Springfield" --purpose "continuing care" --basis treatment --type lab_report --from 2025-01-01
    """
    from chartclerk.store.release import Scope, new_request

    unknown = sorted(set(types or ()) - set(DOC_TYPES))
    if unknown:
        raise typer.BadParameter(f"unknown document type {unknown[0]!r}", param_hint="--type")
    settings = _settings(ctx)
    scope = Scope(
        types=tuple(types or ()),
        date_from=_date(date_from, "--from"),
        date_to=_date(date_to, "--to"),
        documents=tuple(documents or ()),
        include_restricted=include_restricted,
    )
    with _archive(settings) as archive:
        req = new_request(
            archive, settings.release, patient=patient, requester=requester, address=address,
            purpose=purpose, basis=basis, scope=scope, received_on=_date(received, "--received"),
            due_on=_date(due, "--due"),
        )  # fmt: skip
    if as_json:
        _echo_json(req.as_dict())
        return
    typer.echo(f"request {req.id} recorded, due {req.due_on}")


@release_app.command("list")
def release_list(
    ctx: typer.Context,
    due_before: Annotated[
        str | None, typer.Option("--due-before", help="Only those due before this date.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Released and denied requests too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show requests, soonest due first (open ones unless --all).

    Example: chartclerk release list --due-before 2026-12-15
    """
    from chartclerk.store.release import list_requests

    with _archive(_settings(ctx)) as archive:
        reqs = list_requests(archive, due_before=_date(due_before, "--due-before"), open_only=not all_)
    if as_json:
        _echo_json([r.as_dict() for r in reqs])
        return
    for r in reqs:
        _echo_request(r)
    typer.echo(f"{len(reqs)} requests")


@release_app.command("extend")
def release_extend(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="Request number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why more time is needed (told to the requester).")],
) -> None:
    """Record the one 30-day extension a request may have, with its reason.

    Example: chartclerk release extend 12 --reason "records in off-site storage"
    """
    from chartclerk.store.release import extend_request

    settings = _settings(ctx)
    with _archive(settings) as archive:
        req = extend_request(archive, settings.release, request_id, reason)
    typer.echo(f"request {req.id} extended, now due {req.due_on}")


@release_app.command("deny")
def release_deny(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="Request number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (told to the requester).")],
) -> None:
    """Deny a request, recording the reason.

    Example: chartclerk release deny 12 --reason "authorization not signed"
    """
    from chartclerk.store.release import deny_request

    with _archive(_settings(ctx)) as archive:
        req = deny_request(archive, request_id, reason)
    typer.echo(f"request {req.id} denied")


@release_app.command("packet")
def release_packet_cmd(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(metavar="ID", help="Request number.")],
    out: Annotated[Path, typer.Option("--out", help="The packet PDF to write (must not exist).")],
) -> None:
    """Assemble and release a request's packet: a cover letter and every document in scope, each
    page stamped with MRN, request number, page x of N and CONFIDENTIAL; records the release and
    the disclosure (with the packet's SHA-256).

    Example: chartclerk release packet 12 --out request-12.pdf
    """
    from chartclerk.store.release import release_packet

    settings = _settings(ctx)
    with _archive(settings) as archive:
        done = release_packet(archive, settings.release, request_id, out)
    typer.echo(
        f"wrote {out}: {done.packet.pages} pages ({done.packet.cover_pages} cover), "
        f"{done.withheld} withheld, sha256 {done.packet.sha256}; disclosure {done.disclosure_id} recorded"
    )


@app.command()
def restrict(
    ctx: typer.Context,
    doc_id: Annotated[int, typer.Argument(metavar="ID", help="Document id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (e.g. 42 CFR Part 2, psychotherapy notes).")],
    off: Annotated[bool, typer.Option("--off", help="Lift the restriction.")] = False,
) -> None:
    """Mark a document restricted (left out of releases unless a request includes it), or lift
    it with --off. Recorded in the audit log with the reason.

    Example: chartclerk restrict 42 --reason "42 CFR Part 2 treatment record"
    """
    from chartclerk.store.release import set_restricted

    with _archive(_settings(ctx)) as archive:
        changed = set_restricted(archive, doc_id, restricted=not off, reason=reason)
    state = "not restricted" if off else "restricted"
    typer.echo(f"document {doc_id} {'is now' if changed else 'was already'} {state}")


@app.command()
def disclosures(
    ctx: typer.Context,
    mrn: Annotated[str, typer.Argument(metavar="MRN", help="The patient's MRN.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Only disclosures on or after (YYYY-MM-DD).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the accounting to FILE.pdf or FILE.csv.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The accounting of disclosures (45 CFR 164.528): what was disclosed of a patient's records
    in the last six years, to whom, when and why, leaving out exempt disclosures (treatment,
    payment, operations, to the patient, under an authorization).

    Example: chartclerk disclosures 00012345 --out accounting.pdf
    """
    from chartclerk.store.disclosures import write_accounting
    from chartclerk.store.release import accounting_for

    if out is not None and out.suffix.lower() not in (".pdf", ".csv"):
        raise typer.BadParameter("expected a .pdf or .csv file", param_hint="--out")
    settings = _settings(ctx)
    with _archive(settings) as archive:
        report = accounting_for(archive, settings.release, mrn, since=_parse_since(since))
    if out is not None:
        write_accounting(report, out, settings.release)
        typer.echo(f"wrote {out}: {len(report.entries)} disclosures")
        return
    if as_json:
        _echo_json([d.as_dict() for d in report.entries])
        return
    for d in report.entries:
        typer.echo(f"{d.at.date()} to {d.recipient} ({d.address}): {d.description} - {d.purpose} [{d.basis}]")
    typer.echo(f"{len(report.entries)} accountable disclosures since {report.start.date()}")


@fhir_app.command("export")
def fhir_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for the NDJSON files (created).")],
    patient: Annotated[str | None, typer.Option("--patient", help="Only this patient (MRN).")] = None,
    inline: Annotated[bool, typer.Option("--inline", help="Put each PDF in the resource (base64).")] = False,
) -> None:
    """Export Patient and DocumentReference resources (FHIR R4, US Core) as NDJSON, one file per
    resource type, as FHIR bulk data does. Documents in review are left out.

    Example: chartclerk fhir export --out export/ --patient 00012345
    """
    from chartclerk.store.fhir import export_ndjson

    settings = _settings(ctx)
    with _archive(settings) as archive:
        counts = export_ndjson(archive, settings.release, out, patient=patient, inline=inline)
    typer.echo(", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" written to {out}")


KindOption = Annotated[
    str | None,
    typer.Option("--kind", help="signature_missing, signature_undated, verbal_order_unauthenticated, "
                 "pages_missing, identifier_missing, consent_after_procedure or document_missing."),
]  # fmt: skip


def _finding_line(f: dict[str, Any]) -> str:
    where = f"p{f['page']}" if f["page"] else "doc"
    region = " [" + ", ".join(f"{v:.3f}" for v in f["region"]) + "]" if f["region"] else ""
    unsure = " (unsure)" if not f["sure"] else ""
    closed = f" {f['status']} by {f['closed_by']}: {f['reason']}" if f["status"] != "open" else ""
    head = f"{f['id']:>6} doc {f['document_id']:<6} {where:<4} {f['kind']}{unsure}{region}"
    return f"{head}: {f['detail']}{closed}"


@deficiencies_app.callback(invoke_without_command=True)
def deficiencies(
    ctx: typer.Context,
    patient: PatientOption = None,
    kind: KindOption = None,
    older_than: Annotated[
        int | None, typer.Option("--older-than", min=0, help="Only documents archived more than DAYS ago.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="open (default), resolved, dismissed or all.")
    ] = "open",
    no_scan: Annotated[
        bool, typer.Option("--no-scan", help="List what is stored; do not analyse new documents first.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The deficiency work list, oldest first, with the page and region of each finding.
    Documents archived since the last run are analysed first (signature areas on the page
    images, page numbering, identifiers; then their patients' charts).

    Example: chartclerk deficiencies --kind signature_missing --older-than 7 --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from chartclerk.deficiency import KINDS
    from chartclerk.deficiency.run import scan_archive
    from chartclerk.store.deficiencies import list_findings

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind")
    if status not in ("open", "resolved", "dismissed", "all"):
        raise typer.BadParameter("open, resolved, dismissed or all", param_hint="--status")
    settings = _settings(ctx)
    with _archive(settings) as archive:
        if not no_scan:
            report = scan_archive(archive, settings)
            if report.documents and not as_json:
                done = f"{report.documents} documents ({report.pages} pages)"
                typer.echo(f"analysed {done} in {report.seconds:.1f} s")
        items = list_findings(archive, patient=patient, kind=kind, older_than_days=older_than, status=status)
    if as_json:
        _echo_json(items)
        return
    for f in items:
        typer.echo(_finding_line(f))
    typer.echo(f"{len(items)} findings; close one with: chartclerk deficiencies resolve ID --reason WHY")


def _close(
    ctx: typer.Context, finding_id: int, status: Literal["resolved", "dismissed"], reason: str
) -> None:
    from chartclerk.store.deficiencies import close_finding

    with _archive(_settings(ctx)) as archive:
        item = close_finding(archive, finding_id, status, archive.actor.user, reason)
    typer.echo(f"finding {item['id']} {status} by {item['closed_by']}")


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the finding and audited).")]
FindingArg = Annotated[int, typer.Argument(metavar="ID", help="Finding id (from the work list).")]


@deficiencies_app.command("resolve")
def deficiencies_resolve(ctx: typer.Context, finding_id: FindingArg, reason: ReasonOption) -> None:
    """The deficiency was fixed (signed, dated, the page found): close it, saying how.

    Example: chartclerk deficiencies resolve 12 --reason "signed by Dr Lee 11/30"
    """
    _close(ctx, finding_id, "resolved", reason)


@deficiencies_app.command("dismiss")
def deficiencies_dismiss(ctx: typer.Context, finding_id: FindingArg, reason: ReasonOption) -> None:
    """Not a deficiency (the detector was wrong): close it, saying why.

    Example: chartclerk deficiencies dismiss 12 --reason "initials are the form's authentication"
    """
    _close(ctx, finding_id, "dismissed", reason)


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
