from .sqlite import AgentSession, Store

__all__ = ["AgentSession", "Store"]
