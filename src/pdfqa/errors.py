"""One exception type for problems a user can fix, so entrypoints can print it without a traceback."""


class PdfqaError(Exception):
    """A problem with the user's input or configuration; the message says what to do."""
