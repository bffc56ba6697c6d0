"""PEFT's rules as ckv reads them: scaling, rank/alpha patterns, key pairing, base-name matching, recognition."""
from __future__ import annotations

import json
import math

import pytest
import torch

from ckvcs.adapters.base import FilePlan, SourceSegment
from ckvcs.errors import BadInputError
from ckvcs.lora import LoraConfig, adapter_metadata
from ckvcs.lora.delta import delta, pair_keys, target_name, update_shape


def cfg(**kw: object) -> LoraConfig:
    return LoraConfig.parse(json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16, **kw}).encode(), "t")


def test_scaling_and_patterns() -> None:
    assert cfg().scaling("encoder.layer.0.attention.self.query") == 2.0
    assert cfg(use_rslora=True).scaling("q") == 16 / math.sqrt(8)
    c = cfg(rank_pattern={"layer.1.attention.self.query": 4}, alpha_pattern={"value": 2})
    assert c.rank_alpha("encoder.layer.1.attention.self.query") == (4, 16.0)
    assert c.rank_alpha("encoder.layer.11.attention.self.query") == (8, 16.0)  # a suffix match, not a substring
    assert c.scaling("encoder.layer.0.attention.self.value") == 2 / 8
    assert cfg(use_dora=True).unsupported() == "DoRA (use_dora)"
    assert "LOHA" in (cfg(peft_type="LOHA").unsupported() or "")
    with pytest.raises(BadInputError, match="not valid JSON"):
        LoraConfig.parse(b"{", "t")


def test_pairing_and_targets() -> None:
    pairs = pair_keys(["base_model.model.h.0.attn.c_attn.lora_A.weight", "base_model.model.h.0.attn.c_attn.lora_B.weight",
                       "base_model.model.wte.lora_embedding_A", "base_model.model.wte.lora_embedding_B"], "t")
    assert [(p.module, p.embedding) for p in pairs] == [("h.0.attn.c_attn", False), ("wte", True)]
    with pytest.raises(BadInputError, match="not a LoRA A/B weight"):
        pair_keys(["base_model.model.q.lora_magnitude_vector"], "t")
    with pytest.raises(BadInputError, match="has lora_A but no lora_B"):
        pair_keys(["base_model.model.q.lora_A.weight"], "t")
    names = {"bert.encoder.q.weight": 0, "other.weight": 0}
    assert target_name("encoder.q", names, "t") == "bert.encoder.q.weight"
    assert target_name("model.other", names, "t") == "other.weight"
    with pytest.raises(BadInputError, match="has no base tensor"):
        target_name("missing", names, "t")


def test_fan_in_fan_out_transposes() -> None:
    a, b = torch.randn(2, 5), torch.randn(3, 2)
    assert update_shape(a, b, False, "t") == (3, 5) and update_shape(a, b, True, "t") == (5, 3)
    assert torch.equal(delta(a, b, 0.5, True, torch.float32), (b @ a).T * 0.5)
    with pytest.raises(BadInputError, match="convolution"):
        update_shape(torch.randn(2, 5, 1, 1), b, False, "t")


def test_recognition_never_fails_a_commit() -> None:
    def plan(path: str, data: bytes) -> FilePlan:
        return FilePlan(path, "blob", len(data), 0o644, [SourceSegment("blob", len(data), memoryview(data))])
    w = plan("adapter_model.safetensors", b"x")
    good = adapter_metadata([plan("adapter_config.json", json.dumps({"r": 4, "lora_alpha": 8}).encode()), w], "b")
    assert good is not None and good["base"] == "b" and good["r"] == 4 and good["weights"] == w.path
    assert adapter_metadata([plan("adapter_config.json", b"not json"), w], "b") is None
    assert adapter_metadata([plan("adapter_config.json", b"{}")], "b") is None
