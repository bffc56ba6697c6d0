"""A damaged index database is one clear StorageError, in one line."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import ckvcs
from ckvcs.errors import StorageError


def test_damaged_index_is_a_one_line_storage_error(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path)
    repo.commit({"w": __import__("torch").zeros(3)}, step=1)
    repo.close()
    with sqlite3.connect(tmp_path / ".ckv/index.db") as db:
        db.execute("ALTER TABLE commits RENAME TO commits_gone")
    repo = ckvcs.Repo.open(tmp_path)
    with pytest.raises(StorageError) as e:
        repo.log()
    assert "\n" not in str(e.value) and "no such table: commits" in str(e.value)
    assert e.value.exit_code == 9
