"""Persistence (R-VM, R-LEAVE, R-PRIVACY): ``open_store(url)`` gives a ``Repository``.

``Store(path)`` is the SQLite backend, as before.
"""

from .base import AgentSession, Repository, StoreError, VoicemailIntake, open_store
from .sqlite import Store

__all__ = ["AgentSession", "Repository", "Store", "StoreError", "VoicemailIntake", "open_store"]
