"""pdfqa: Korean PDFs in, a fine-tuned and evaluated question-answering system out."""

__version__ = "0.1.0"
