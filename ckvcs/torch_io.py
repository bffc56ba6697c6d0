"""Between ckv's bit arrays and torch tensors. Imports torch only when called."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_TORCH_NAMES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "U16": "uint16", "U32": "uint32",
    "U64": "uint64",
}


def torch_dtype(name: str) -> "torch.dtype":
    import torch
    return getattr(torch, _TORCH_NAMES[name])


def dtype_name(dt: "torch.dtype") -> str:
    import torch
    for k, v in _TORCH_NAMES.items():
        if getattr(torch, v, None) == dt:
            return k
    raise ValueError(f"torch dtype {dt} has no safetensors equivalent")


def to_tensor(bits: np.ndarray, dtype: str, shape: tuple[int, ...]) -> "torch.Tensor":
    import torch
    if not bits.flags.writeable:
        bits = bits.copy()  # cached bits are shared; the caller owns what it gets
    raw = torch.from_numpy(np.ascontiguousarray(bits).view(np.uint8).reshape(-1))
    return raw.view(torch_dtype(dtype)).reshape(shape)


def tensor_bytes(t: "torch.Tensor") -> memoryview:
    """The little-endian bytes of a CPU copy of ``t`` (a view when already contiguous on CPU)."""
    import torch
    t = t.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(t.view(torch.uint8).numpy()).cast("B")
