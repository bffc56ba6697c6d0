"""safetensors files: the header (length prefix + JSON) as a blob, each tensor an object.

The header is checked as strictly as the safetensors library checks it: an
8-byte length within the file and at most 100 MB, a JSON object, each entry a
known dtype with shape × itemsize equal to its byte range, ranges inside the
data buffer, no overlaps, no holes, no trailing bytes. Anything else raises
:class:`BadSafetensorsError` before a single object is written. A tensor of a
dtype ckv does not know (say a newer 4-bit type) is kept as a blob segment.
"""
from __future__ import annotations

import json
import struct
from typing import Any

from ..errors import BadSafetensorsError
from ..format import DTYPES, SAFETENSORS_DTYPES
from .base import SourceSegment

MAX_HEADER = 100_000_000


def _shape(name: str, raw: Any, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw):
        raise BadSafetensorsError(where, f"tensor {name!r} has an invalid shape {raw!r}")
    return tuple(raw)


def parse_header(view: memoryview, where: str) -> tuple[int, dict[str, Any]]:
    """Return (header length, entries without __metadata__), checked against the file size."""
    size = len(view)
    if size < 8:
        raise BadSafetensorsError(where, f"truncated: {size} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", view, 0)
    if n > MAX_HEADER:
        raise BadSafetensorsError(where, f"header length {n} exceeds the {MAX_HEADER}-byte limit")
    if 8 + n > size:
        raise BadSafetensorsError(where, f"truncated: header of {n} bytes runs past the end of a {size}-byte file")
    try:
        header = json.loads(bytes(view[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadSafetensorsError(where, f"header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise BadSafetensorsError(where, "header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not isinstance(meta, dict):
        raise BadSafetensorsError(where, "__metadata__ is not an object")
    return n, header


def plan_safetensors(view: memoryview, where: str) -> list[SourceSegment]:
    n, header = parse_header(view, where)
    buf_start = 8 + n
    buf_len = len(view) - buf_start
    entries = []
    try:
        json.dumps(header, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadSafetensorsError(where, "header holds a string that is not valid UTF-8") from None
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            raise BadSafetensorsError(where, f"tensor {name!r} lacks dtype, shape or data_offsets")
        dtype, shape, offs = info["dtype"], _shape(name, info["shape"], where), info["data_offsets"]
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs) or not 0 <= offs[0] <= offs[1]):
            raise BadSafetensorsError(where, f"tensor {name!r} has invalid data_offsets {offs!r}")
        if not isinstance(dtype, str):
            raise BadSafetensorsError(where, f"tensor {name!r} has an invalid dtype {dtype!r}")
        begin, end = offs
        if dtype in SAFETENSORS_DTYPES:
            numel = 1
            for s in shape:
                numel *= s
            if numel * DTYPES[dtype].itemsize != end - begin:
                raise BadSafetensorsError(
                    where, f"header lies: tensor {name!r} is {dtype}{list(shape)} = "
                    f"{numel * DTYPES[dtype].itemsize} bytes but data_offsets span {end - begin}")
        if end > buf_len:
            raise BadSafetensorsError(
                where, f"truncated: tensor {name!r} ends at byte {buf_start + end}, file has {len(view)}")
        entries.append((begin, end, name, dtype, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    segments = [SourceSegment("blob", buf_start, view[:buf_start])]
    pos = 0
    for begin, end, name, dtype, shape in entries:
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else f"leaves a hole of {begin - pos} bytes"
            raise BadSafetensorsError(where, f"header lies: tensor {name!r} {what}")
        data = view[buf_start + begin : buf_start + end]
        if dtype in SAFETENSORS_DTYPES:
            segments.append(SourceSegment("tensor", end - begin, data, name, dtype, shape))
        else:
            segments.append(SourceSegment("blob", end - begin, data))
        pos = end
    if pos != buf_len:
        raise BadSafetensorsError(where, f"{buf_len - pos} bytes after the last tensor are not in the header")
    return segments
