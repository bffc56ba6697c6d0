"""Object storage: where frames live. See ``base.ObjectStore``."""
from .base import ObjectStore
from .local import LocalStore

__all__ = ["LocalStore", "ObjectStore"]
