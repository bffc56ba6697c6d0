"""Maintenance of a repository: checking it (fsck) and measuring it (du) now; repack and gc join here.

Every operation here reads or plans first; fsck and du only read; fsck reports typed
findings (findings.py), and repair is a separate step (STYLE.md rules 9, 10).
"""
from .findings import (
                       BrokenChain,
                       DanglingRef,
                       Finding,
                       FsckReport,
                       HashMismatch,
                       IndexMismatch,
                       MissingObject,
                       OrphanFile,
)
from .fsck import fsck, iter_findings

__all__ = ["BrokenChain", "DanglingRef", "Finding", "FsckReport", "HashMismatch", "IndexMismatch",
           "MissingObject", "OrphanFile", "fsck", "iter_findings"]
