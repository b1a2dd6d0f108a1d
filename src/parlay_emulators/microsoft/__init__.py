"""A local Microsoft identity platform (v2.0) + Microsoft Graph v1.0 calendar emulator.

``create_app()`` returns the ASGI app; ``python -m parlay_emulators.microsoft --port P`` serves it.
Routes, the control API under ``/_emulator/`` and what is and is not emulated: see ``control.py`` and the
README's "Emulators" paragraph.
"""

from .app import create_app
from .store import PERSONAL_TENANT, WORK_TENANT, Store

__all__ = ["PERSONAL_TENANT", "WORK_TENANT", "Store", "create_app"]
