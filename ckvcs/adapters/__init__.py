"""Adapters split a file into segments (a header blob, tensors, other blobs).

Concatenating the segments' bytes gives the file back exactly. ``plan_file``
picks the adapter by file name; anything not understood is stored as blobs.
"""
from .base import FilePlan, SourceSegment, plan_file

__all__ = ["FilePlan", "SourceSegment", "plan_file"]
