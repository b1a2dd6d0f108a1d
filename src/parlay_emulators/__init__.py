"""Local emulators of the calendar providers Parlay talks to.

Each emulator is a plain ASGI app that follows the provider's public HTTP API (paths, field
names, error envelopes) closely enough that the provider's own client library can drive it,
plus a small control API under ``/_emulator/`` for tests and demos. They import nothing from
``parlay``: Parlay reaches them only through its ordinary settings (``PARLAY_GOOGLE_*_URL``).

- :mod:`parlay_emulators.google`: Google OAuth 2 (consent page, token, userinfo, revoke) and
  Calendar API v3. ``python -m parlay_emulators.google --port 8201``.
- :mod:`parlay_emulators.microsoft`: Microsoft identity platform and Graph (its own brief).
"""
