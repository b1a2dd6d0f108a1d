"""Provider key -> adapter class.  Keys are stable and never reused; only built adapters appear."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from parlay.providers.base import CalendarProvider
from parlay.providers.caldav import CalDAVProvider
from parlay.providers.google import GoogleProvider
from parlay.providers.microsoft import MicrosoftProvider

PROVIDERS: Mapping[str, type[CalendarProvider]] = MappingProxyType(
    {
        CalDAVProvider.key: CalDAVProvider,
        MicrosoftProvider.key: MicrosoftProvider,
        GoogleProvider.key: GoogleProvider,
    }
)


def provider_class(key: str) -> type[CalendarProvider]:
    """The adapter class for ``key``; KeyError for a key we do not offer."""
    return PROVIDERS[key]
