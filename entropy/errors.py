"""Typed errors of s2lic; every user-facing failure derives from `S2LICError`.

The CLI prints ``str(error)`` of an `S2LICError` as one line and exits non-zero, so the
messages must be complete sentences a user can act on.
"""

from __future__ import annotations

__all__ = [
    "S2LICError",
    "FormatError",
    "TruncatedError",
    "ChecksumError",
    "LimitError",
    "CoderError",
]


class S2LICError(Exception):
    """Base class of all errors that s2lic reports to users."""


class FormatError(S2LICError):
    """The bytes are not a valid `.s2lic` container (bad magic, version, field)."""


class TruncatedError(FormatError):
    """The container ends before all its declared fields and streams."""


class ChecksumError(FormatError):
    """A CRC32 or the checksum of the decoded symbols does not match."""


class LimitError(S2LICError):
    """A size (pixels, stream length, memory) is above the configured limit."""


class CoderError(S2LICError):
    """The entropy coder failed to encode or decode a stream."""
