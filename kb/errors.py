"""The product's one error family.

Every ``KBError`` carries a message written for the person at the keyboard (Danish, or English
where the question was English): safe to show as it is, with no stack trace, no secret and no
personal data. The CLI and the chat catch ``KBError`` once and show its message; any other
exception is a bug and surfaces as one.
"""
from __future__ import annotations

from .messages import msg


class KBError(Exception):
    """Base class: ``str(error)`` is the user-facing message."""

    def in_language(self, language: str) -> str:
        """The message for a user writing in ``language``; most are already written for them."""
        return str(self)


class EmptyStoreError(KBError):
    """Nothing has been ingested yet."""


class StoreBusyError(KBError):
    """An ingest is rewriting the store right now, or another ingest holds the lock."""


class StoreMismatchError(KBError):
    """The store was built with another embedding model; its vectors cannot be mixed with new ones."""


class ConfigError(KBError):
    """A setting that cannot work as given; the message names the setting and what to do."""


class BadFileError(KBError):
    """A file that cannot be read as a document; the message says why. Ingest reports and skips it."""


class UnknownDocumentError(KBError):
    """No document in the knowledge base has that file name or title."""


class BadDateError(KBError):
    """A filter date that cannot be read; ``value`` is what the user typed."""

    def __init__(self, value: str, language: str = "da") -> None:
        super().__init__(msg("bad_date", language, value=value))
        self.value = value

    def in_language(self, language: str) -> str:
        return msg("bad_date", language, value=self.value)
