"""The ``ckv`` command line, run for real in subprocesses, as a user would run it.

Scenario tests walk the user story (init → commit → log/show → checkout →
status, then refs, step detection, repository discovery) and check the error
contract on the way: each failure exits with the code docs/cli.md gives it,
prints one ``ckv: error:`` line on stderr and never a traceback. Read-only
commands of a scenario run side by side (``ckv.batch``) to keep the suite fast.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ckvcs.cli.app import app as cli_app
from ckvcs.repo import Repo


Ckv = Any  # tests/cli/conftest.py: the subprocess runner
Checkpoint = Callable[..., Path]
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "cli.md"
SIZE = r"[\d.]+ (?:B|KB|MB|GB|TB)"


def files_of(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def object_files(repo_root: Path) -> set[str]:
    return {p.relative_to(repo_root).as_posix() for p in (repo_root / ".ckv" / "objects").rglob("*") if p.is_file()}


def changed_elements(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per tensor of two safetensors files: (elements whose bits differ, elements)."""
    import torch
    from safetensors.torch import load_file

    ta, tb = load_file(str(a)), load_file(str(b))
    views = {torch.bfloat16: torch.int16, torch.float32: torch.int32}
    return {k: (int((ta[k].view(views[ta[k].dtype]) != tb[k].view(views[tb[k].dtype])).sum()), ta[k].numel())
            for k in ta}


def flip_last_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    return bytes(data)


# -- the user story ------------------------------------------------------------------------------

def test_commit_log_show_checkout_status(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    assert "Initialized empty ckv repository" in ckv("init").out
    assert (tmp_path / ".ckv" / "config.toml").is_file()
    s20 = checkpoint(tmp_path / "runs/x/step-0020", 0)
    s40 = checkpoint(tmp_path / "runs/x/step-0040", 3)
    v20, v40 = files_of(s20), files_of(s40)

    out = ckv("commit", "runs/x/step-0020", "-m", "first\n\nmore words").out
    m = re.search(r"^\[main ([0-9a-f]{12})\] \(tag step-20\) first$", out, re.M)
    assert m, out
    c1 = m.group(1)
    assert "2 files, 3 tensors" in out
    assert re.search(rf"{SIZE} committed, {SIZE} stored, ratio [\d.]+×", out), out
    assert "changed" not in out  # a root commit has nothing to compare with

    out = ckv("commit", "runs/x/step-0040").out
    m = re.search(r"^\[main ([0-9a-f]{12})\] \(tag step-40\)$", out, re.M)
    assert m, out
    c2 = m.group(1)
    assert re.search(r"[\d.]+% of elements changed", out), out
    ratio40 = float(re.search(r"ratio ([\d.]+)×", out).group(1))  # type: ignore[union-attr]
    assert ratio40 > 2, out  # the second commit is stored as deltas and reused objects

    log, sparse, log_json, show, show_json, export, status = ckv.batch(
        ("log",), ("log", "--sparsity"), ("log", "--json"), ("show", "step-40", "--tensors"),
        ("show", "step-40", "--json"), ("checkout", "step-20", "-o", "out"), ("status",))

    # log: newest first, decorated, full ids
    ids = re.findall(r"^commit ([0-9a-f]{32})", log.out, re.M)
    assert [i[:12] for i in ids] == [c2, c1]
    assert f"commit {ids[0]} (HEAD -> main, tag: step-40)" in log.out
    assert f"Author: {ckv.AUTHOR}" in log.out and "Step:   40" in log.out
    assert "    first\n" in log.out and "    more words" in log.out

    lines = sparse.out.splitlines()
    assert re.match(r"commit\s+step\s+changed", lines[0]) and "ratio" in lines[0] and "layer heat" in lines[0]
    rows = [ln for ln in lines if re.match(r"[0-9a-f]{12} ", ln)]
    assert [r[:12] for r in rows] == [c2, c1]
    assert re.search(r"\s40\s+[\d.]+%", rows[0]) and "×" in rows[0] and "tag: step-40" in rows[0]

    entries = log_json.json()
    assert [e["id"] for e in entries] == ids
    new, old = entries
    assert new["parents"] == [old["id"]] and old["parents"] == []
    assert (new["step"], old["step"]) == (40, 20)
    assert old["message"] == "first\n\nmore words" and new["author"] == ckv.AUTHOR
    assert old["changed_fraction"] is None
    diffs = changed_elements(s20 / "model.safetensors", s40 / "model.safetensors")
    expected = sum(d for d, _ in diffs.values()) / sum(n for _, n in diffs.values())
    assert 0 < expected < 1
    assert new["changed_fraction"] == pytest.approx(expected)
    assert new["raw_bytes"] == sum(len(b) for b in v40.values())
    assert 0 < new["stored_bytes"] < old["stored_bytes"]
    assert new["ratio"] == pytest.approx(new["raw_bytes"] / new["stored_bytes"])
    assert "tag: step-40" in new["refs"] and "HEAD -> main" in new["refs"]

    table = {ln.split()[0]: ln for ln in show.out.splitlines() if ln.split() and ln.split()[0] in diffs}
    assert set(table) == set(diffs)
    assert re.search(r"BF16\s+32×48", table["layers.0.w"]) and re.search(r"F32\s+64\s", table["layers.0.b"])
    assert "reused" in table["embed.weight"]  # unchanged: the object of step-20 is reused
    assert f"Parents:  {c1}" in show.out and "Step:     40" in show.out

    shown = show_json.json()
    assert shown["commit"]["id"] == ids[0]
    assert {f["path"] for f in shown["files"]} == {"config.json", "model.safetensors"}
    tensors = {t["name"]: t for t in shown["tensors"]}
    for name, (d, n) in diffs.items():
        assert tensors[name]["changed_fraction"] == pytest.approx(d / n), name
    assert tensors["embed.weight"]["stored_bytes"] == 0 and tensors["embed.weight"]["codec"] == "reused"
    assert tensors["layers.0.w"]["dtype"] == "BF16" and tensors["layers.0.w"]["shape"] == [32, 48]

    # export anywhere, byte for byte
    assert re.search(rf"{c1} → out: 2 files written \({SIZE}\), 0 already up to date", export.out), export
    assert files_of(tmp_path / "out") == v20
    assert f"HEAD {c2}" in status.out and re.search(r"Source .*step-0040: clean", status.out), status

    # restore into the directory it came from: a deleted file comes back, the rest is skipped
    (s20 / "config.json").unlink()
    out = ckv("checkout", "step-20").out
    assert "1 files written" in out and "1 already up to date" in out
    assert files_of(s20) == v20

    # a modified file is never clobbered without --force, and then nothing at all is written
    modified = flip_last_byte(s20 / "model.safetensors")
    (s20 / "config.json").unlink()
    ckv.fails(6, "checkout", "step-20", match=r"would overwrite modified files in .*: model\.safetensors.*--force")
    assert (s20 / "model.safetensors").read_bytes() == modified
    assert not (s20 / "config.json").exists()
    assert "2 files written" in ckv("checkout", "step-20", "--force").out
    assert files_of(s20) == v20

    # status sees modified, missing and untracked files
    (s40 / "config.json").write_text('{"hidden_size": 1}\n')
    (s40 / "model.safetensors").unlink()
    (s40 / "notes.txt").write_text("eval loss 1.23\n")
    st, st_json = ckv.batch(("status",), ("status", "--json"))
    assert re.search(r"Source .*step-0040: changed", st.out), st
    assert re.search(r"modified:\s+config\.json", st.out) and re.search(r"missing:\s+model\.safetensors", st.out)
    assert re.search(r"untracked:\s+notes\.txt", st.out)
    js = st_json.json()
    assert js["head"] == ids[0] and js["branch"] == "main" and js["source"] == str(s40.resolve())
    assert js["clean"] is False
    assert {f["path"]: f["state"] for f in js["files"]} == {"config.json": "modified",
                                                             "model.safetensors": "missing"}
    assert js["untracked"] == ["notes.txt"]


# -- refs and revisions ----------------------------------------------------------------------------

def test_tags_branches_and_revisions(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    for step, version in ((20, 0), (40, 3), (60, 6), (80, 8)):
        checkpoint(tmp_path / f"runs/x/step-{step:04d}", version)
    with Repo.init(tmp_path) as repo:  # the set-up runs in-process: the CLI's commit is tested above
        c1, c2 = (repo.commit(tmp_path / f"runs/x/step-{s:04d}").id for s in (20, 40))

    # tags
    assert ckv("tag", "best", "HEAD~1").out.strip() == f"Tagged {c1[:12]} as best"
    listed, _ = ckv.batch(("tag",), ckv.expect(6, "tag", "best", match="tag best already exists"))
    assert [ln.split() for ln in listed.out.splitlines()] == [["best", c1[:12]], ["step-20", c1[:12]],
                                                               ["step-40", c2[:12]]]
    assert ckv("tag", "-d", "best").out.strip() == "Deleted tag best"

    # a commit on a new branch starts at HEAD's commit; HEAD stays on main
    out = ckv("commit", "runs/x/step-0060", "--branch", "exp", "-m", "try").out
    m = re.search(r"^\[exp ([0-9a-f]{12})\] \(tag exp/step-60\) try$", out, re.M)
    assert m, out
    exp_log, status, branches, _ = ckv.batch(
        ("log", "exp", "--json"), ("status", "--json"), ("branch",),
        ckv.expect(5, "tag", "-d", "best", match="no such tag: best"))
    c3 = exp_log.json()[0]["id"]
    assert c3.startswith(m.group(1))
    assert [e["id"] for e in exp_log.json()] == [c3, c2, c1]
    assert exp_log.json()[0]["parents"] == [c2]
    assert set(exp_log.json()[0]["refs"]) == {"exp", "tag: exp/step-60"}
    assert (status.json()["branch"], status.json()["head"]) == ("main", c2)
    assert [ln.split() for ln in branches.out.splitlines()] == [["exp", c3[:12]], ["*", "main", c2[:12]]]

    # branches
    assert ckv("branch", "lora", "--from", "step-20").out.strip() == f"Branch lora at {c1[:12]}"

    # revision syntax, and refusals that write nothing
    k = next(n for n in range(4, 33) if not any(o.startswith(c1[:n]) for o in (c2, c3)))
    by_tilde, by_caret, by_prefix, *_ = ckv.batch(
        ("show", "HEAD~1", "--json"), ("log", "exp^", "--oneline", "-n", "1"), ("show", c1[:k], "--json"),
        ckv.expect(5, "show", "exp~3", match="revision goes past the first commit: exp~3"),
        ckv.expect(5, "checkout", "no-such-ref", match="unknown revision: no-such-ref"),
        ckv.expect(6, "branch", "lora", match="branch lora already exists"),
        ckv.expect(6, "branch", "-d", "main", match="HEAD points at it"))
    assert by_tilde.json()["commit"]["id"] == c1
    assert by_caret.out.startswith(c2[:12])
    assert by_prefix.json()["commit"]["id"] == c1
    assert ckv("branch", "-d", "lora").out.strip() == "Deleted branch lora"

    # an ambiguous prefix: a second commit row sharing c1's first 4 digits
    twin = c1[:4] + ("0" if c1[4] != "0" else "1") + c1[5:]
    db = sqlite3.connect(tmp_path / ".ckv" / "index.db")
    try:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM commits WHERE id = ?", (c1,)).fetchone())
        row.update(id=twin, seq=db.execute("SELECT max(seq) + 1 FROM commits").fetchone()[0])
        db.execute(f"INSERT INTO commits ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                   tuple(row.values()))
        db.commit()
    finally:
        db.close()
    _, by_longer, _ = ckv.batch(ckv.expect(5, "show", c1[:4], match=f"ambiguous commit id prefix: {c1[:4]}$"),
                                ("show", c1[:5], "--json"),
                                ckv.expect(5, "branch", "-d", "lora", match="no such branch: lora"))
    assert by_longer.json()["commit"]["id"] == c1

    # checking out a branch by name (no -o) moves HEAD to it: the next commit lands there
    out = ckv("checkout", "exp").out
    assert "0 files written" in out and "2 already up to date" in out
    out = ckv("commit", "runs/x/step-0080").out
    assert re.search(r"^\[exp [0-9a-f]{12}\] \(tag exp/step-80\)$", out, re.M), out


# -- what a commit takes in ----------------------------------------------------------------------

def test_step_detection_tags_and_refusals(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    ckv("init")
    checkpoint(tmp_path / "hf/checkpoint-500", 1)
    last = checkpoint(tmp_path / "hf/last", 2)
    (last / "trainer_state.json").write_text(json.dumps({"global_step": 777, "epoch": 1.5}))
    checkpoint(tmp_path / "hf/misc", 4)
    checkpoint(tmp_path / "hf/plain", 5)
    checkpoint(tmp_path / "hf/checkpoint-1000", 6)
    checkpoint(tmp_path / "hf/checkpoint-2000", 7)
    bad = tmp_path / "hf/step-3000"
    shutil.copytree(tmp_path / "hf/plain", bad)
    (bad / "extra.safetensors").write_bytes((bad / "model.safetensors").read_bytes()[:-100])

    assert "(tag step-500)" in ckv("commit", "hf/checkpoint-500").out
    assert "(tag step-777)" in ckv("commit", "hf/last").out
    assert "(tag step-900)" in ckv("commit", "hf/misc", "--step", "900").out
    assert "(tag" not in ckv("commit", "hf/plain").out  # no step anywhere: no tag
    assert "(tag release)" in ckv("commit", "hf/checkpoint-1000", "--tag", "release").out
    assert "(tag" not in ckv("commit", "hf/checkpoint-2000", "--no-tag").out

    objects, tmp = object_files(tmp_path), list((tmp_path / ".ckv" / "tmp").iterdir())
    ckv.batch(
        ckv.expect(6, "commit", "hf/checkpoint-2000", "--no-tag",
                   match=r"nothing to commit: the files are identical to commit [0-9a-f]{12} .*--allow-empty"),
        ckv.expect(6, "commit", "hf/checkpoint-500", match=r"tag step-500 already exists; pass --tag NAME or --no-tag"),
        ckv.expect(4, "commit", "hf/step-3000", match=r"extra\.safetensors: truncated"),
        ckv.expect(2, "commit", "hf/misc", "--step", "-1"))
    assert object_files(tmp_path) == objects and list((tmp_path / ".ckv" / "tmp").iterdir()) == tmp

    quiet = ckv("commit", "hf/checkpoint-2000", "--no-tag", "--allow-empty", "-q").out
    assert re.fullmatch(r"[0-9a-f]{32}\n", quiet), quiet

    log = ckv("log", "--json").json()
    assert [e["step"] for e in log] == [2000, 2000, 1000, None, 900, 777, 500]
    assert log[0]["id"] == quiet.strip() and log[0]["parents"] == [log[1]["id"]]
    assert [e["refs"] for e in log][2:] == [["tag: release"], [], ["tag: step-900"], ["tag: step-777"],
                                            ["tag: step-500"]]


# -- finding the repository ----------------------------------------------------------------------

def test_repository_discovery(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    outside, repo = tmp_path / "outside", tmp_path / "repo"
    outside.mkdir()
    init, _ = ckv.batch(("init", "repo"), ckv.expect(3, "log", cwd=outside, match="not a ckv repository"))
    assert str(repo / ".ckv") in init.out
    ckv.fails(3, "init", cwd=repo, match=f"a ckv repository already exists at {re.escape(str(repo))}$")

    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    checkpoint(repo / "ckpts/step-0010")
    cid = ckv("commit", "../../ckpts/step-0010", "-q", cwd=sub).out.strip()

    *runs, _ = ckv.batch(
        ckv.expect(0, "log", "--oneline", cwd=sub),
        ckv.expect(0, "--repo", repo, "log", "--oneline", cwd=outside),
        ckv.expect(0, "-C", sub, "log", "--oneline", cwd=outside),
        ckv.expect(0, "log", "--oneline", cwd=outside, env={"CKV_REPO": str(sub)}),
        ckv.expect(3, "--repo", outside, "status", cwd=repo, match="not a ckv repository"))
    for run in runs:
        assert run.out == f"{cid[:12]} (HEAD -> main, tag: step-10)\n", run


def test_unsupported_format_version_is_refused(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    Repo.init(tmp_path).close()
    checkpoint(tmp_path / "step-1")
    cfg = tmp_path / ".ckv" / "config.toml"
    text = cfg.read_text()
    assert re.search(r"^format_version = \d+$", text, re.M)
    cfg.write_text(re.sub(r"^format_version = \d+$", "format_version = 99", text, flags=re.M))
    objects = object_files(tmp_path)
    msg = r"format version 99; this ckv reads version \d+ \(upgrade ckv"
    ckv.batch(*(ckv.expect(8, *args, match=msg) for args in (("log",), ("commit", "step-1"))))
    assert object_files(tmp_path) == objects


# -- the error boundary and start-up -------------------------------------------------------------

PATCHED = ("import ckvcs.repo\n"
           "def boom(*a, **k): raise {exc}\n"
           "ckvcs.repo.Repo.log = boom\n"
           "from ckvcs.cli.app import main; main()")


def test_error_boundary(ckv: Ckv, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    Repo.init(repo).close()
    py = ckv.PROG[0]
    internal, interrupted, usage, debug = ckv.batch(
        ckv.expect(70, "log", cwd=repo, prog=(py, "-c", PATCHED.format(exc="RuntimeError('boom')"))),
        ckv.expect(130, "log", cwd=repo, prog=(py, "-c", PATCHED.format(exc="KeyboardInterrupt"))),
        ckv.expect(2, "log", "--no-such-option", cwd=repo),
        ckv.expect(None, "status", env={"CKV_DEBUG": "1"}, traceback_ok=True))  # tmp_path: no repository
    assert internal.out == ""
    assert internal.err.splitlines() == ["ckv: internal error: RuntimeError: boom (set CKV_DEBUG=1 for a traceback)"]
    assert "No such option" in usage.err
    assert debug.code != 0 and "Traceback" in debug.err and "RepoNotFoundError" in debug.err


STARTUP = ("import sys\n"
           "from ckvcs.cli.app import main\n"
           "for argv in (['log'], ['log', '--sparsity']):\n"
           "    sys.argv[1:] = argv\n"
           "    try:\n        main()\n"
           "    except SystemExit as e:\n        assert not e.code, e.code\n"
           "print('HEAVY', sorted(m for m in ('torch', 'numba') if m in sys.modules))")


@pytest.fixture(scope="module")
def heavy_modules(committed: Ckv) -> list[str]:
    """Which of torch and numba ``ckv log`` and ``ckv log --sparsity`` import, in one fresh interpreter."""
    run = committed(prog=(committed.PROG[0], "-c", STARTUP))
    assert run.err == "", run
    last = run.out.splitlines()[-1]
    assert last.startswith("HEAVY "), run.out
    return json.loads(last.removeprefix("HEAVY ").replace("'", '"'))


def test_log_does_not_import_torch(heavy_modules: list[str]) -> None:
    assert "torch" not in heavy_modules


def test_log_does_not_import_numba(heavy_modules: list[str]) -> None:
    assert "numba" not in heavy_modules


# -- help and docs -------------------------------------------------------------------------------

COMMANDS = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    res = CliRunner().invoke(cli_app, [name, "--help"])
    assert res.exit_code == 0, res.output
    first_words = " ".join(COMMANDS[name].help.split()[:5])
    assert f"{name} [OPTIONS]" in res.output and first_words in " ".join(res.output.split())


def test_top_level_help_and_version(ckv: Ckv) -> None:
    top, version = ckv.batch(("--help",), ("--version",))
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", top.out, re.M), name
    from ckvcs import __version__
    assert version.out.strip() == f"ckv {__version__}"


def _doc_sections() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.M)
    return {head: body for head, body in zip(parts[1::2], parts[2::2])}


def test_docs_cover_every_command_and_option() -> None:
    sections = _doc_sections()
    for name, cmd in COMMANDS.items():
        heads = [h for h in sections if re.match(rf"#{{2,3}} `?ckv {name}\b", h)]
        assert heads, f"docs/cli.md has no heading for ckv {name}"
        body = sections[heads[0]]
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("-") and opt != "--help":
                    assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", body), \
                        f"ckv {name}: {opt} is not documented in its section"


def _exit_table() -> dict[int, str]:
    sections = _doc_sections()
    heads = [h for h in sections if "exit code" in h.lower()]
    assert heads, "docs/cli.md has no exit-code section"
    rows = re.findall(r"^\|\s*`?(\d+)`?\s*\|(.*)\|\s*$", sections[heads[0]], re.M)
    return {int(code): text for code, text in rows}


def test_docs_exit_code_table_matches_errors() -> None:
    from ckvcs import errors

    table = _exit_table()
    seen: set[type] = set()
    todo = [errors.CkvError]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    for cls in seen:
        assert cls.exit_code in table, f"{cls.__name__} exits {cls.exit_code}, not in docs/cli.md"
        if cls is not errors.CkvError and cls.__base__ is errors.CkvError:
            assert cls.__name__ in table[cls.exit_code], f"{cls.__name__} not named in row {cls.exit_code}"
    assert {0, 2, 70, 130} <= set(table)
    assert set(table) <= {0, 2, 70, 130} | {c.exit_code for c in seen}


# -- regressions: bugs found by these tests and fixed ----------------------------------------

def test_checkout_onto_a_file_is_a_clean_error(committed: Ckv) -> None:
    (committed.cwd / "a-file").write_text("not a directory\n")
    try:
        run = committed.run("checkout", "HEAD", "-o", "a-file")
        committed.check_error(run, run.code if run.code in (4, 6, 9) else -1)
    finally:
        (committed.cwd / "a-file").unlink()


def test_init_on_a_file_is_a_clean_error(ckv: Ckv, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x\n")
    run = ckv.run("init", "a-file")
    ckv.check_error(run, run.code if run.code in (3, 4, 9) else -1)


def test_status_json_agrees_with_text_on_untracked_files(committed: Ckv) -> None:
    extra = committed.cwd / "runs/step-10/notes.txt"
    extra.write_text("x\n")
    try:
        text, js = committed.batch(("status",), ("status", "--json"))
        assert "changed" in text.out and js.json()["untracked"] == ["notes.txt"]
        assert js.json()["clean"] is False
    finally:
        extra.unlink()


def test_delete_without_a_name_is_a_usage_error(committed: Ckv) -> None:
    tag, branch = committed.batch(committed.expect(None, "tag", "-d"), committed.expect(None, "branch", "-d"))
    assert (tag.code, branch.code) == (2, 2), (tag, branch)


def test_log_json_reports_commit_metadata(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    with Repo.init(tmp_path) as repo:
        repo.commit(checkpoint(tmp_path / "step-1"), metadata={"lr": 0.001, "run": "a"})
    log, show = ckv.batch(("log", "--json"), ("show", "--json"))
    assert show.json()["commit"]["metadata"] == {"lr": 0.001, "run": "a"}
    assert log.json()[0]["metadata"] == {"lr": 0.001, "run": "a"}
