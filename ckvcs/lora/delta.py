"""LoRA weights → the update of one base tensor, by PEFT's rules.

PEFT saves ``base_model.model.<module>.lora_A.weight`` (r × in) and
``…lora_B.weight`` (out × r) for a linear layer, and
``…lora_embedding_A`` / ``…lora_embedding_B`` for an embedding. The update
of ``<module>.weight`` is ``transpose(B @ A) · scaling`` where the transpose
applies to embeddings always and to linear layers with ``fan_in_fan_out``
(GPT-2's Conv1D stores its weight as in × out), exactly as PEFT's
``get_delta_weight``. ckv computes it in float32 (float64 for a float64 base),
adds it to the base weight in that precision and rounds once to the base
dtype; PEFT on CPU does the same for float32, and rounds the update to the
base dtype before adding for float16/bfloat16 — the results agree to that
rounding.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInputError

if TYPE_CHECKING:
    import torch

PREFIX = "base_model.model."
_KEY = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_A\.weight|lora_B\.weight|lora_embedding_A|lora_embedding_B)$")
MERGEABLE_DTYPES = ("F16", "BF16", "F32", "F64")


@dataclass(frozen=True)
class LoraPair:
    module: str                       # the adapted module, PEFT prefix removed
    a: str                            # adapter tensor names
    b: str
    embedding: bool


def pair_keys(names: Iterable[str], where: str) -> list[LoraPair]:
    """Group an adapter's tensor names into (A, B) pairs; anything else is refused."""
    found: dict[tuple[str, bool], dict[str, str]] = {}
    for name in names:
        m = _KEY.match(name)
        if m is None:
            raise BadInputError(where, f"adapter tensor {name!r} is not a LoRA A/B weight; "
                                       "only plain LoRA adapters can be merged")
        kind = m["kind"]
        emb = kind.startswith("lora_embedding")
        found.setdefault((m["module"], emb), {})["A" if kind.endswith(("A", "A.weight")) else "B"] = name
    pairs = []
    for (module, emb), ab in sorted(found.items()):
        if set(ab) != {"A", "B"}:
            have = next(iter(ab))
            raise BadInputError(where, f"adapter module {module!r} has lora_{have} but no lora_{'AB'[have == 'A']}")
        pairs.append(LoraPair(module.removeprefix(PREFIX), ab["A"], ab["B"], emb))
    return pairs


def target_name(module: str, base_names: Mapping[str, object], where: str) -> str:
    """The base tensor a module's update applies to: ``<module>.weight``, allowing for a prefix.

    A base saved from a task model (``bert.encoder…``) and an adapter made on the
    bare model (``encoder…``), or the reverse, still match, as long as only one
    base tensor does.
    """
    want = module + ".weight"
    if want in base_names:
        return want
    parts = want.split(".")
    for i in range(1, len(parts) - 1):  # the adapter names a wrapper the base was saved without
        if ".".join(parts[i:]) in base_names:
            return ".".join(parts[i:])
    hits = [n for n in base_names if n.endswith("." + want)]
    if len(hits) == 1:
        return hits[0]
    reason = "matches several base tensors: " + ", ".join(sorted(hits)[:3]) if hits else "has no base tensor"
    raise BadInputError(where, f"adapter module {module!r} {reason} (looked for {want})")


def update_shape(a: "torch.Tensor", b: "torch.Tensor", transpose: bool, where: str) -> tuple[int, int]:
    """The shape of ``transpose(B @ A)``; refuses weights that are not a rank-r pair of matrices."""
    if a.dim() != 2 or b.dim() != 2 or b.shape[1] != a.shape[0]:
        raise BadInputError(where, f"LoRA weights of shapes {tuple(b.shape)} @ {tuple(a.shape)} are not a "
                                   "rank-r product of matrices (convolution LoRA cannot be merged)")
    return (a.shape[1], b.shape[0]) if transpose else (b.shape[0], a.shape[1])


def delta(a: "torch.Tensor", b: "torch.Tensor", scaling: float, transpose: bool,
          compute: "torch.dtype") -> "torch.Tensor":
    """``transpose(B @ A) · scaling`` in ``compute`` precision."""
    d = b.to(compute) @ a.to(compute)
    return (d.T if transpose else d) * scaling


def merge(base: "torch.Tensor", updates: list["torch.Tensor"], weights: list[float]) -> "torch.Tensor":
    """``base + Σ weight · update``, in the updates' precision, rounded once to the base dtype."""
    acc = base.to(updates[0].dtype)
    for u, w in zip(updates, weights):
        acc = acc + (u if w == 1.0 else u * w)
    return acc.to(base.dtype)
