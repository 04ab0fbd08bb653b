"""The clerk's web app (``chartclerk serve``): search, the document viewer, the patient's chart,
the review queue, uploads, the audit log and user management, with a JSON twin of each page
under /api/. A thin adapter over the same library calls as the CLI."""

from chartclerk.web.app import WebState, create_app, serve

__all__ = ["WebState", "create_app", "serve"]
