"""Provider key -> adapter class.  Keys are stable and never reused; only built adapters appear."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from parlay.providers.base import CalendarProvider
from parlay.providers.caldav import CalDAVProvider

PROVIDERS: Mapping[str, type[CalendarProvider]] = MappingProxyType(
    {
        CalDAVProvider.key: CalDAVProvider,
        # "google" and "microsoft" are registered here when their adapters exist.
    }
)


def provider_class(key: str) -> type[CalendarProvider]:
    """The adapter class for ``key``; KeyError for a key we do not offer."""
    return PROVIDERS[key]
