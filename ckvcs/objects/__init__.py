"""The object model: tensors, blobs, file manifests, commits."""
from .commit import Commit
from .manifest import Manifest, Segment

__all__ = ["Commit", "Manifest", "Segment"]
