"""chartclerk: scanning and filing for medical records offices.

The repository root is this package; its parts are ``ingest`` (finding files and
reading their pages), ``ocr`` (straightening and reading pages), ``classify``
(document type and patient), ``store`` (the archive) and ``pipeline`` (wiring).
"""

__version__ = "0.1.0"
