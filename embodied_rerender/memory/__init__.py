"""The memory bank of views and its retrieval."""

from .bank import RETRIEVAL_METHODS, MemoryBank, Retrieval, View

__all__ = ["MemoryBank", "View", "Retrieval", "RETRIEVAL_METHODS"]
