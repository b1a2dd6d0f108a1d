"""Google OAuth 2 + Calendar API v3 emulator (an ASGI app; imports nothing from parlay).

One origin serves what Google spreads over several hosts, so Parlay points every
``PARLAY_GOOGLE_*_URL`` at it: authorize ``{base}/o/oauth2/v2/auth``, token ``{base}/token``,
userinfo ``{base}/v1/userinfo``, revoke ``{base}/revoke``, Calendar ``{base}/calendar/v3``.
The control API is described in :mod:`parlay_emulators.google.control`.
"""

from .app import create_app
from .store import Store

__all__ = ["Store", "create_app"]
