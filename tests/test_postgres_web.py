"""The web app on a PostgreSQL archive: the route-level tests of the pages that read the
archive (search and its JSON twins, paging, the viewer's hit boxes, the patient chart, the
review queue, the audit page), run again with the archive database on a throwaway PostgreSQL.

The tests are test_web.py's own, collected here with this module's ``site`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chartclerk.settings import Settings
from chartclerk.tests.services import PostgresServer
from chartclerk.tests.test_web import (
    FAST_ARGON2,
    PASSWORD,
    FakeClock,
    Site,
    test_audit_page_filters_and_verifies,
    test_paging,
    test_patient_chart_and_its_twin,
    test_review_queue_file_to_a_candidate,
    test_search_page_json_twin_and_audit,
    test_viewer_draws_the_hits_on_the_search_words,
)
from chartclerk.tests.webdata import build_archive
from chartclerk.web import create_app
from chartclerk.workers import SerialExecutor

__all__ = [
    "test_audit_page_filters_and_verifies",
    "test_paging",
    "test_patient_chart_and_its_twin",
    "test_review_queue_file_to_a_candidate",
    "test_search_page_json_twin_and_audit",
    "test_viewer_draws_the_hits_on_the_search_words",
]


@pytest.fixture
def site(settings: Settings, tmp_path: Path, postgres: PostgresServer) -> Iterator[Site]:
    settings = settings.model_copy(
        update={
            "database": postgres.create_database("web"),
            "web": settings.web.model_copy(update={"max_upload_mb": 1, "max_failed_logins": 3}),
        }
    )
    clock = FakeClock()
    app = create_app(settings, clock=clock, make_executor=SerialExecutor, hasher=FAST_ARGON2)
    state = app.state.web
    assert state.archive.engine.dialect.name == "postgresql"
    ids = build_archive(state.archive, tmp_path / "scans")
    for name, role in (("clara", "clerk"), ("audrey", "auditor"), ("adam", "admin")):
        state.users.add(name, role, PASSWORD)
    with TestClient(app):
        yield Site(app, state.archive, state.users, clock, ids, tmp_path)
