"""Hypothesis strategies and fixed edge cases for tensor bit patterns.

Every array here is the *unsigned bit view* codecs work on (``DType.bits``):
a float tensor is its IEEE (or bf16 / fp8) bit pattern, never a float, so
NaN payloads, -0.0 and subnormals survive exactly and comparisons are
``.tobytes()`` equality. ``"bytes"`` (blobs) is left out: it is not a tensor
dtype.

Two kinds of input:

* ``edge_arrays(dtype)`` — a fixed, named list (empty, one element, all equal,
  all different, every special float pattern) so each edge is always run,
  not just when hypothesis happens to find it;
* ``bit_arrays()`` / ``changed_pairs()`` — strategies that explore around
  them, the latter giving a base and a version with none / one / a few / many
  / all elements changed, by random bits or by exactly one ulp.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ckvcs.format import DTYPES, DType

if TYPE_CHECKING:
    import torch

TENSOR_DTYPES: list[str] = [n for n in DTYPES if n != "bytes"]
FLOAT_DTYPES: list[str] = [n for n in TENSOR_DTYPES if DTYPES[n].is_float]
MAX_LEN = 96


@dataclass(frozen=True)
class FloatLayout:
    """Exponent and mantissa widths of a float format (the sign is the top bit)."""

    exp: int
    mant: int
    ieee_specials: bool = True   # False for F8_E4M3 (fn): no Inf, one NaN pattern per sign


FLOAT_LAYOUTS: dict[str, FloatLayout] = {
    "F16": FloatLayout(5, 10),
    "BF16": FloatLayout(8, 7),
    "F32": FloatLayout(8, 23),
    "F64": FloatLayout(11, 52),
    "F8_E4M3": FloatLayout(4, 3, ieee_specials=False),
    "F8_E5M2": FloatLayout(5, 2),
}


def special_patterns(name: str) -> dict[str, int]:
    """Named bit patterns worth testing for dtype ``name`` (floats: zeros, Inf, NaNs, subnormals, extremes)."""
    dt = DTYPES[name]
    width = dt.itemsize * 8
    ones = (1 << width) - 1
    sign = 1 << (width - 1)
    if not dt.is_float:
        return {"zero": 0, "one": 1, "all_ones": ones, "top_bit": sign, "top_bit_clear_max": ones ^ sign,
                "alternating": int("01" * (width // 2), 2)}
    lay = FLOAT_LAYOUTS[name]
    mant_mask = (1 << lay.mant) - 1
    exp_mask = ((1 << lay.exp) - 1) << lay.mant
    pats = {
        "+0.0": 0,
        "-0.0": sign,
        "min_subnormal": 1,
        "-min_subnormal": sign | 1,
        "max_subnormal": mant_mask,
        "-max_subnormal": sign | mant_mask,
        "min_normal": 1 << lay.mant,
        "-min_normal": sign | (1 << lay.mant),
        "one": ((1 << (lay.exp - 1)) - 1) << lay.mant,
        "all_ones": ones,
    }
    if lay.ieee_specials:
        pats.update({
            "+inf": exp_mask,
            "-inf": sign | exp_mask,
            "qnan": exp_mask | (1 << (lay.mant - 1)),
            "-qnan": sign | exp_mask | (1 << (lay.mant - 1)),
            "snan_payload_1": exp_mask | 1,
            "nan_payload_max": exp_mask | mant_mask,
            "max": exp_mask - (1 << lay.mant) | mant_mask,
            "lowest": sign | (exp_mask - (1 << lay.mant)) | mant_mask,
        })
        if lay.mant > 2:
            pats["nan_payload_mixed"] = exp_mask | (1 << (lay.mant - 1)) | 0b101
    else:  # E4M3fn: exponent all ones is finite except mantissa all ones (NaN)
        pats.update({"nan": exp_mask | mant_mask, "-nan": sign | exp_mask | mant_mask,
                     "max": exp_mask | (mant_mask - 1), "lowest": sign | exp_mask | (mant_mask - 1)})
    return pats


def _arr(values: list[int], dt: DType) -> np.ndarray:
    return np.array(values, dtype=np.uint64).astype(dt.bits) if values else np.zeros(0, dt.bits)


def all_different(dt: DType, n: int) -> np.ndarray:
    """``n`` distinct bit patterns (for 1-byte types at most 256), spread over the whole range."""
    width = dt.itemsize * 8
    n = min(n, 1 << width)
    step = max(1, ((1 << width) - 1) // max(n, 1))
    rng = np.random.default_rng(n)
    vals = [(i * step) & ((1 << width) - 1) for i in range(n)]
    rng.shuffle(vals)
    return _arr(vals, dt)


def edge_arrays(name: str) -> dict[str, np.ndarray]:
    """Fixed edge-case bit arrays for dtype ``name``, keyed by a readable label."""
    dt = DTYPES[name]
    specials = list(special_patterns(name).values())
    out = {
        "empty": np.zeros(0, dt.bits),
        "one_zero": _arr([0], dt),
        "one_special": _arr([specials[-1]], dt),
        "all_equal": _arr([specials[2]] * 33, dt),
        "all_zero": np.zeros(64, dt.bits),
        "all_ones": np.full(17, np.iinfo(dt.bits).max, dt.bits),
        "all_different": all_different(dt, 64),
        "specials": _arr(specials, dt),
        "specials_repeated": _arr(specials * 5, dt),
        "ramp": np.arange(200, dtype=np.uint64).astype(dt.bits),
    }
    return out


def bases_for(data: np.ndarray) -> dict[str, np.ndarray]:
    """Bases of the same length as ``data`` for delta codecs: equal, zero, all bits flipped, unrelated."""
    rng = np.random.default_rng(data.size)
    noise = rng.integers(0, 256, data.size * data.dtype.itemsize, dtype=np.uint8).view(data.dtype)
    return {"same": data.copy(), "zeros": np.zeros_like(data), "inverted": ~data, "noise": noise,
            "one_ulp_up": data + data.dtype.type(1)}


@st.composite
def tensor_dtypes(draw: st.DrawFn) -> DType:
    return DTYPES[draw(st.sampled_from(TENSOR_DTYPES))]


@st.composite
def bit_arrays(draw: st.DrawFn, dtype: DType | None = None, min_size: int = 0,
               max_size: int = MAX_LEN) -> tuple[DType, np.ndarray]:
    """(dtype, 1-D bit array): random bits, special patterns, or a mix; sometimes all equal."""
    dt = dtype or draw(tensor_dtypes())
    width = dt.itemsize * 8
    specials = list(special_patterns(dt.name).values())
    element = draw(st.sampled_from(["any", "special", "mixed", "small"]))
    if element == "any":
        elems = st.integers(0, (1 << width) - 1)
    elif element == "special":
        elems = st.sampled_from(specials)
    elif element == "small":
        elems = st.integers(0, 3)
    else:
        elems = st.one_of(st.sampled_from(specials), st.integers(0, (1 << width) - 1))
    n = draw(st.integers(min_size, max_size))
    if draw(st.booleans()) and n:
        fill = draw(elems)
        return dt, np.full(n, fill, dtype=dt.bits)
    arr = draw(hnp.arrays(dt.bits, n, elements=elems))
    return dt, np.ascontiguousarray(arr)


@st.composite
def changed_pairs(draw: st.DrawFn, dtype: DType | None = None,
                  max_size: int = MAX_LEN) -> tuple[DType, np.ndarray, np.ndarray]:
    """(dtype, base, new): ``new`` is ``base`` with none / one / few / many / all elements changed.

    A change is random bits, exactly one ulp up or down (integer ±1 on the bit
    view, wrapping), a sign flip, or a special pattern.
    """
    dt, base = draw(bit_arrays(dtype, max_size=max_size))
    n = base.size
    density = draw(st.sampled_from(["none", "one", "few", "many", "all"]))
    if n == 0 or density == "none":
        k = 0
    elif density == "one":
        k = 1
    elif density == "few":
        k = draw(st.integers(1, max(1, n // 10)))
    elif density == "many":
        k = draw(st.integers(max(1, n // 2), n))
    else:
        k = n
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
    new = base.copy()
    kind = draw(st.sampled_from(["random", "ulp_up", "ulp_down", "ulp_mixed", "sign", "special"]))
    one = dt.bits.type(1)
    if kind == "random":
        new[idx] = rng.integers(0, 256, k * dt.itemsize, dtype=np.uint8).view(dt.bits)
    elif kind == "ulp_up":
        new[idx] = base[idx] + one
    elif kind == "ulp_down":
        new[idx] = base[idx] - one
    elif kind == "ulp_mixed":
        up = rng.random(k) < 0.5
        new[idx] = np.where(up, base[idx] + one, base[idx] - one)
    elif kind == "sign":
        new[idx] = base[idx] ^ dt.bits.type(1 << (dt.itemsize * 8 - 1))
    else:
        specials = np.array(list(special_patterns(dt.name).values()), dtype=np.uint64).astype(dt.bits)
        new[idx] = specials[rng.integers(0, specials.size, k)]
    return dt, base, new


def shapes_for(n: int) -> list[tuple[int, ...]]:
    """Some shapes holding exactly ``n`` elements (``()`` for one, zero-sized dims for none)."""
    if n == 0:
        return [(0,), (3, 0), (0, 5, 2)]
    out: list[tuple[int, ...]] = [(n,), (1, n), (n, 1)]
    if n == 1:
        out.append(())
    for d in (2, 3, 4):
        if n % d == 0 and n > d:
            out.append((d, n // d))
    return out


# torch attribute names of the safetensors dtypes, written out apart from ckvcs.torch_io on purpose
TORCH_NAMES: dict[str, str] = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "I32": "int32",
    "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
    "F32": "float32", "F64": "float64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}


def bits_to_torch(dtype: str, bits: np.ndarray, shape: tuple[int, ...]) -> "torch.Tensor":
    """A torch tensor of safetensors dtype ``dtype`` holding exactly ``bits`` (a copy)."""
    import torch

    tdtype = getattr(torch, TORCH_NAMES[dtype])
    if bits.size == 0:   # numpy gives an empty copy stride 0, which torch refuses to view
        return torch.empty(shape, dtype=tdtype)
    raw = torch.from_numpy(np.ascontiguousarray(bits).view(np.uint8).reshape(-1).copy())
    return raw.view(tdtype).reshape(shape)


def torch_bytes(t: "torch.Tensor") -> bytes:
    """The raw little-endian bytes of ``t`` (0-d, empty, bool and fp8 tensors too)."""
    import torch

    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
