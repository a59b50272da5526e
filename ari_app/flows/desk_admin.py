"""Supervisors' view of the callbacks desk (API and CLI): tasks, leave, the duty rota."""

from __future__ import annotations

__all__ = ["DeskAdmin"]


class DeskAdmin:
    """Mixed into ``flows.desk.CallbackDesk``."""
