"""PDF → pages → chunks: the ``ingest`` and ``chunk`` stages.

``pdf`` extracts each page with pypdf and diagnoses bad files, ``cleanup`` repairs the text for
Korean (NFC, headers/footers, rejoined lines), ``ingest`` runs both over a folder in parallel
and writes pages.jsonl + ingest_report.json, ``chunking`` packs Kiwi sentences into
token-bounded chunks with stable ids.
"""

from pdfqa.corpus.chunking import Chunk, chunk_pages
from pdfqa.corpus.cleanup import CleanupOptions, clean_pages, strip_headers_footers
from pdfqa.corpus.ingest import IngestSummary, discover, page_records, run_ingest
from pdfqa.corpus.pdf import FLAG_MESSAGES, PageText, PdfResult, content_id, read_pdf, sniff

__all__ = [
    "FLAG_MESSAGES",
    "Chunk",
    "CleanupOptions",
    "IngestSummary",
    "PageText",
    "PdfResult",
    "chunk_pages",
    "clean_pages",
    "content_id",
    "discover",
    "page_records",
    "read_pdf",
    "run_ingest",
    "sniff",
    "strip_headers_footers",
]
