"""The domain's error tree.

Each error carries a stable machine ``code`` (part of the HTTP contract), a human ``message``
and optionally the request ``field`` it is about.  ``kind`` says what sort of failure it is;
the web layer maps kinds to HTTP statuses in one place (``parlay.web.errors``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal[
    "invalid",  # 422: the request is well-formed but its content is not acceptable
    "bad_request",  # 400
    "unauthenticated",  # 401
    "forbidden",  # 403
    "not_found",  # 404 (also used for things the caller may not see)
    "conflict",  # 409
    "too_large",  # 413
    "rate_limited",  # 429
    "unavailable",  # 503: nothing the client did wrong; the same request may succeed later
]


class DomainError(Exception):
    kind: ClassVar[ErrorKind] = "invalid"
    code: ClassVar[str] = "invalid"
    default_message: ClassVar[str] = "The request is not valid."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)


# --- generic -------------------------------------------------------------------------------
class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    kind = "not_found"
    code = "not_found"
    default_message = "Not found."


class Forbidden(DomainError):
    kind = "forbidden"
    code = "forbidden"
    default_message = "You may not do that."


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    code = "unauthenticated"
    default_message = "Sign in first."


class RateLimited(DomainError):
    kind = "rate_limited"
    code = "rate_limited"
    default_message = "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TryAgain(DomainError):
    """The database kept refusing the transaction for lost races; nothing was written."""

    kind = "unavailable"
    code = "try_again"
    default_message = "The service is busy; nothing was changed. Please try again."


class OutcomeUnknown(DomainError):
    """The connection to the database broke while the change was being committed."""

    kind = "unavailable"
    code = "outcome_unknown"
    default_message = (
        "The connection to the database broke while saving; reload to see whether the "
        "change was made."
    )


# --- accounts ------------------------------------------------------------------------------
class EmailTaken(DomainError):
    kind = "conflict"
    code = "email_taken"
    default_message = "An account with this email already exists."


class BadCredentials(DomainError):
    kind = "unauthenticated"
    code = "bad_credentials"
    default_message = "Email or password is wrong."


class UnknownTimeZone(DomainError):
    code = "unknown_time_zone"
    default_message = "Unknown time zone; use an IANA name such as Europe/Berlin."


# --- rooms ---------------------------------------------------------------------------------
class NotAMember(NotFound):
    """The caller is not a member: reported as 404 so ids do not leak."""


class UnknownUser(DomainError):
    code = "unknown_user"
    default_message = "No user has this email."


class AlreadyMember(DomainError):
    kind = "conflict"
    code = "already_member"
    default_message = "This user is already a member of the room."


# --- scheduling ----------------------------------------------------------------------------
class InvalidAvailability(DomainError):
    code = "invalid_availability"
    default_message = "The availability is not valid."


class InvalidDuration(DomainError):
    code = "invalid_duration"
    default_message = "Duration must be 15, 30, 45 or 60 minutes."


class NotASlot(DomainError):
    code = "not_a_slot"
    default_message = "This start time is not one of the offered slots."


class SlotTaken(DomainError):
    kind = "conflict"
    code = "slot_taken"
    default_message = "This time has just been booked; pick another."


class InviteClosed(DomainError):
    kind = "conflict"
    code = "invite_closed"
    default_message = "This invite is no longer open."


class OwnInvite(DomainError):
    code = "own_invite"
    default_message = "You cannot book your own invite."


class NotHost(DomainError):
    kind = "forbidden"
    code = "not_host"
    default_message = "Only the host may do this."


class BookerBusy(DomainError):
    kind = "conflict"
    code = "booker_busy"
    default_message = "You already have a meeting at this time; pick another."


class IdempotencyKeyInUse(DomainError):
    kind = "conflict"
    code = "idempotency_key_in_use"
    default_message = "This Idempotency-Key is being used by another request."


class MeetingCancelled(DomainError):
    kind = "conflict"
    code = "meeting_cancelled"
    default_message = "This meeting has been cancelled."


class SessionRequired(DomainError):
    kind = "forbidden"
    code = "session_required"
    default_message = "Sign in with a session to manage access tokens; a token cannot."


# --- calendars -----------------------------------------------------------------------------
class CaldavAuth(DomainError):
    code = "caldav_auth"
    default_message = "The CalDAV server refused that user name or password."


class CaldavUnreachable(DomainError):
    code = "caldav_unreachable"
    default_message = "No CalDAV server answered at that address."


class ProviderNotConfigured(DomainError):
    code = "provider_not_configured"
    default_message = "This server is not set up to link that kind of calendar."


class ConnectionNotFound(NotFound):
    default_message = "No such calendar connection."
