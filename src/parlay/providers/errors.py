"""One error taxonomy for every calendar provider.

Adapters raise these (the base class maps anything else to :class:`Transient`), so callers
decide with ``isinstance`` alone: retry later (``Transient``, ``RateLimited``), ask the user to
reconnect (``AuthExpired``), give up on this object (``NotFound``, ``NotSupported``), or refuse a
link (``InvalidCredentials``, ``Unreachable``).  Messages never carry credentials.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every provider failure; ``retryable`` tells the worker whether to try again."""

    retryable = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__name__)


class AuthExpired(ProviderError):
    """The grant no longer works (revoked, expired refresh token, 401 after a refresh)."""


class RateLimited(ProviderError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when it said so."""

    retryable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transient(ProviderError):
    """A timeout, a 5xx, a dropped connection: the same call may work later."""

    retryable = True


class NotFound(ProviderError):
    """The calendar or event does not exist (any more)."""


class NotSupported(ProviderError):
    """The provider or this account cannot do what was asked."""


class MailboxNotSupported(NotSupported):
    """Graph cannot serve this mailbox (on-premises Exchange, no Exchange Online licence)."""


class InvalidCredentials(ProviderError):
    """Linking: the server answered and refused the user name or password."""


class Unreachable(ProviderError):
    """Linking: nothing usable answered at that address (down, not CalDAV, garbage)."""


class SyncTokenExpired(ProviderError):
    """Raised by adapters' sync hooks only; the base class turns it into a full resync."""
