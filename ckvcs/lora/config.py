"""PEFT adapter directories: recognising one, and reading its ``adapter_config.json``.

A commit whose tree holds ``adapter_config.json`` next to
``adapter_model.safetensors`` (or ``adapter_model.bin``) at its root is a PEFT
adapter. ckv records that in the commit's metadata under ``"peft"``: a summary
of the config and the base commit the adapter applies to. The files are stored
like any others; recognising them never makes a commit fail.

Scaling follows PEFT (``tuners/lora/layer.py``): ``lora_alpha / r``, or
``lora_alpha / sqrt(r)`` with ``use_rslora``; ``rank_pattern`` and
``alpha_pattern`` override r and alpha for modules whose name ends with a
pattern key, matched as PEFT's ``get_pattern_key`` does.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..adapters import FilePlan
from ..errors import BadInputError

ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
# config keys that change what a merge must compute; a merge refuses them rather than guess
_UNSUPPORTED = {
    "use_dora": "DoRA (use_dora)",
    "modules_to_save": "modules_to_save",
    "layer_replication": "layer_replication",
    "trainable_token_indices": "trainable_token_indices",
    "lora_bias": "lora_bias",
    "use_qalora": "QA-LoRA (use_qalora)",
    "use_bdlora": "use_bdlora",
}


@dataclass(frozen=True)
class LoraConfig:
    peft_type: str
    r: int
    lora_alpha: float
    use_rslora: bool = False
    fan_in_fan_out: bool = False
    target_modules: Any = None
    rank_pattern: dict[str, int] = field(default_factory=dict)
    alpha_pattern: dict[str, float] = field(default_factory=dict)
    bias: str = "none"
    base_model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, data: bytes, where: str) -> "LoraConfig":
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadInputError(where, f"{ADAPTER_CONFIG} is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise BadInputError(where, f"{ADAPTER_CONFIG} is not a JSON object")
        try:
            return cls(peft_type=str(raw.get("peft_type") or "LORA").upper(), r=int(raw.get("r", 8)),
                       lora_alpha=float(raw.get("lora_alpha", 8)), use_rslora=bool(raw.get("use_rslora")),
                       fan_in_fan_out=bool(raw.get("fan_in_fan_out")), target_modules=raw.get("target_modules"),
                       rank_pattern={str(k): int(v) for k, v in (raw.get("rank_pattern") or {}).items()},
                       alpha_pattern={str(k): float(v) for k, v in (raw.get("alpha_pattern") or {}).items()},
                       bias=str(raw.get("bias") or "none"), base_model=raw.get("base_model_name_or_path"),
                       raw=raw)
        except (TypeError, ValueError, AttributeError) as e:
            raise BadInputError(where, f"{ADAPTER_CONFIG} has an invalid value: {e}") from None

    def unsupported(self) -> str | None:
        """Why ckv cannot merge this adapter, or None if it can."""
        if self.peft_type != "LORA":
            return f"peft_type {self.peft_type} (only LORA adapters can be merged)"
        if self.bias != "none":
            return f"bias={self.bias!r} (trained biases)"
        for key, what in _UNSUPPORTED.items():
            if self.raw.get(key):
                return what
        if self.r <= 0 or any(v <= 0 for v in self.rank_pattern.values()):
            return "a rank r ≤ 0"
        return None

    def rank_alpha(self, module: str) -> tuple[int, float]:
        return (self.rank_pattern.get(_pattern_key(self.rank_pattern, module), self.r),
                self.alpha_pattern.get(_pattern_key(self.alpha_pattern, module), self.lora_alpha))

    def scaling(self, module: str) -> float:
        r, alpha = self.rank_alpha(module)
        return alpha / math.sqrt(r) if self.use_rslora else alpha / r

    def summary(self) -> dict[str, Any]:
        """What commit metadata records about the adapter."""
        out: dict[str, Any] = {"peft_type": self.peft_type, "r": self.r, "lora_alpha": self.lora_alpha,
                               "use_rslora": self.use_rslora, "fan_in_fan_out": self.fan_in_fan_out,
                               "target_modules": self.target_modules, "base_model_name_or_path": self.base_model}
        if self.rank_pattern:
            out["rank_pattern"] = self.rank_pattern
        if self.alpha_pattern:
            out["alpha_pattern"] = self.alpha_pattern
        why = self.unsupported()
        if why:
            out["unsupported"] = why
        return out


def _pattern_key(patterns: dict[str, Any], module: str) -> str:
    for key in patterns:
        if re.match(rf"(.*\.)?({key})$", module):
            return key
    return module


def adapter_metadata(plans: Sequence[FilePlan], base: str | None) -> dict[str, Any] | None:
    """The ``"peft"`` metadata of a commit of ``plans``, or None if they are not a PEFT adapter."""
    by_path = {p.path: p for p in plans}
    weights = [w for w in WEIGHT_FILES if w in by_path]
    if ADAPTER_CONFIG not in by_path or not weights:
        return None
    data = b"".join(bytes(s.data) for s in by_path[ADAPTER_CONFIG].segments)
    try:
        cfg = LoraConfig.parse(data, ADAPTER_CONFIG)
    except BadInputError:
        return None  # not a config PEFT wrote: the files are committed, nothing is claimed about them
    return {"base": base, "weights": weights[0], **cfg.summary()}
