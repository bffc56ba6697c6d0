"""Maintenance of a repository: checking it (fsck), measuring it (du), repacking it and collecting garbage (gc).

Every operation here reads or plans first: fsck and du only read and fsck reports typed
findings (findings.py); repack and gc build their plan, write what is new and durable,
switch the index in one transaction, and only then delete (STYLE.md rules 9, 10).
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
                       TruncatedPack,
)
from .fsck import fsck, iter_findings
from .gc import GcPlan
from .repack import RepackResult

__all__ = ["BrokenChain", "DanglingRef", "Finding", "FsckReport", "GcPlan", "HashMismatch", "IndexMismatch",
           "MissingObject", "OrphanFile", "RepackResult", "TruncatedPack", "fsck", "iter_findings"]
