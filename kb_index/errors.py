"""Errors of the knowledge-base index: one small hierarchy, explained to the user at the edge."""

from __future__ import annotations


class KBError(Exception):
    """Base class: anything that stops the knowledge base from answering or being built."""


class IndexMissingError(KBError):
    """There is no built index at the configured path yet."""


class IndexCorruptError(KBError):
    """The index directory exists but cannot be read (missing file, bad manifest)."""


class EncoderMismatchError(KBError):
    """The index was built with a different encoder than the one configured."""


class UnknownEncoderError(KBError):
    """The configured encoder name is not one we know."""


class SourcesMissingError(KBError):
    """A source given to ingest is missing or holds nothing readable: ingesting it anyway would
    remove every article it used to hold, so nothing is changed."""


class SourceError(KBError):
    """A knowledge-base source file cannot be parsed (reported by name, then skipped)."""


class CalibrationError(KBError):
    """Calibration data is missing, malformed or too small to choose a threshold from."""


class EvaluationDataError(KBError):
    """A BEIR folder is missing a file or holds malformed lines."""
