"""ckv branch --from / commit --base / checkout --merge / blend / branch -v / du, through the real CLI.

The adapter is hand-made in PEFT's on-disk layout (adapter_config.json +
adapter_model.safetensors with ``base_model.model.<module>.lora_A/B.weight``)
over the small test checkpoint, so the expected merge is plain numpy:
``W + lora_alpha / r · B @ A``. The comparison against PEFT itself is in
tests/integration/test_lora.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def load_file(path: Path) -> dict[str, np.ndarray]:
    """Every tensor as numpy; bf16 ones as their int16 bit patterns (numpy has no bf16)."""
    import torch
    from safetensors.torch import load_file as torch_load
    return {k: (v.view(torch.int16) if v.dtype == torch.bfloat16 else v).numpy() for k, v in torch_load(path).items()}


def write_adapter(path: Path, seed: int, **config: object) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 8)).astype(np.float32)
    b = rng.standard_normal((16, 2)).astype(np.float32)
    path.mkdir(parents=True)
    save_file({"base_model.model.embed.lora_A.weight": a, "base_model.model.embed.lora_B.weight": b},
              str(path / "adapter_model.safetensors"), metadata={"format": "pt"})
    cfg = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["embed"], **config}
    (path / "adapter_config.json").write_text(json.dumps(cfg))
    return a, b


def test_adapter_branch_merge_blend(ckv, checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_dir = checkpoint(tmp_path / "base")
    a1, b1 = write_adapter(tmp_path / "ad1", 1)
    a2, b2 = write_adapter(tmp_path / "ad2", 2, use_rslora=True)
    ckv("init")
    ckv("commit", base_dir, "--tag", "base")
    ckv("branch", "med", "--from", "base")
    ckv("commit", tmp_path / "ad1", "-b", "med")
    ckv("commit", tmp_path / "ad2", "-b", "law", "--base", "base")
    base_id = ckv("log", "base", "--json").json()[0]["id"]
    show = ckv("show", "med").out
    assert "Adapter:  PEFT LORA adapter (r=2, alpha=4.0, targets embed)" in show
    assert f"Base:     {base_id}" in show
    assert ckv("log", "law", "--json").json()[0]["metadata"]["peft"]["base"] == base_id

    ckv("checkout", "med", "--merge", "-o", tmp_path / "m1")
    w = load_file(base_dir / "model.safetensors")
    got = load_file(tmp_path / "m1/model.safetensors")
    np.testing.assert_allclose(got["embed.weight"], w["embed.weight"] + 2.0 * (b1 @ a1), rtol=0, atol=1e-5)
    for k in ("layers.0.w", "layers.0.b"):
        assert got[k].tobytes() == w[k].tobytes()
    assert (tmp_path / "m1/config.json").read_bytes() == (base_dir / "config.json").read_bytes()

    out = ckv("blend", "base", "--adapter", "med:0.5", "--adapter", "law:2", "-o", tmp_path / "bl",
              "--commit-to", "mix").out
    assert "2 × law" in out and "[mix " in out
    got = load_file(tmp_path / "bl/model.safetensors")
    want = w["embed.weight"] + 0.5 * 2.0 * (b1 @ a1) + 2 * (4 / np.sqrt(2)) * (b2 @ a2)
    np.testing.assert_allclose(got["embed.weight"], want, rtol=0, atol=1e-5)
    show = ckv("show", "mix").out
    assert f"Blend:    base {base_id} + 0.5 × med" in show and "2 × law" in show

    listing = ckv("branch", "-v").out
    for name in ("med", "law", "mix"):
        line = next(x for x in listing.splitlines() if f" {name} " in x)
        assert f"{base_id[:12]} (base)" in line and " 1 " in line
    du = ckv("du", "--json").json()
    rows = {b["name"]: b for b in du["branches"]}
    assert rows["main"]["base"] is None and rows["main"]["own_bytes"] == rows["main"]["stored_bytes"]
    for name in ("med", "law", "mix"):
        assert rows[name]["base"] == base_id and rows[name]["own_commits"] == 1
        assert rows[name]["own_bytes"] == rows[name]["stored_bytes"] - rows["main"]["stored_bytes"]


def test_merge_refusals(ckv, checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_dir = checkpoint(tmp_path / "base")
    write_adapter(tmp_path / "dora", 1, use_dora=True)
    write_adapter(tmp_path / "ok", 2)
    ckv("init")
    ckv("commit", base_dir, "--tag", "base")
    ckv("commit", tmp_path / "dora", "-b", "dora", "--base", "base")
    ckv("commit", tmp_path / "ok", "-b", "ok", "--base", "base")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken/config.json").write_text("{}")
    runs = ckv.batch(
        ckv.expect(2, "checkout", "ok", "--merge"),
        ckv.expect(4, "checkout", "dora", "--merge", "-o", tmp_path / "x", match="DoRA"),
        ckv.expect(4, "checkout", "base", "--merge", "-o", tmp_path / "x", match="not a PEFT adapter"),
        ckv.expect(6, "checkout", "ok", "--merge", "-o", tmp_path / "taken", match="--force"),
        ckv.expect(5, "blend", "base", "--adapter", "nope:1", "-o", tmp_path / "x"),
        ckv.expect(2, "blend", "base", "--adapter", "ok:heavy", "-o", tmp_path / "x"),
    )
    assert len(runs) == 6 and not (tmp_path / "x").exists()
    assert (tmp_path / "taken/config.json").read_text() == "{}"
    ckv("checkout", "ok", "--merge", "-o", tmp_path / "taken", "--force")
    assert (tmp_path / "taken/config.json").read_bytes() == (base_dir / "config.json").read_bytes()
