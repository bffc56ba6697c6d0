"""The index database: objects, commits, trees, refs, reflog, per-tensor stats."""
from .engine import Index

__all__ = ["Index"]
