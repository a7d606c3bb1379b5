"""The registry: model versions, their metadata and status history, in SQL."""

from .database import STATUSES, Registry

__all__ = ["STATUSES", "Registry"]
