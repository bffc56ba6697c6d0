"""The codec interface.

A codec is a small pure object named by a config dict (``get_config()`` is
JSON and includes ``"id"``). It turns the bit pattern of one tensor — a 1-D
array of unsigned integers as wide as the element, see ``DType.bits`` — into a
payload, optionally relative to a base tensor of the same dtype and length,
and back. Codecs never do float arithmetic: lossless means bit for bit.

``decode`` must raise :class:`~ckvcs.errors.CorruptObjectError` (or a
ValueError the frame layer converts) on a payload it cannot parse; it must
never read out of bounds or return the wrong number of elements.

Ids and frame codes are stable: once data exists, a codec id never changes
meaning. A changed payload layout is a new codec with a new id and code.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..format import DType


class Codec(ABC):
    codec_id: ClassVar[str]
    frame_code: ClassVar[int]
    uses_base: ClassVar[bool] = False
    # stores only the elements that differ from the base: for a delta where few changed, the
    # commit path tries no dense candidate (objects/tensor.py, SPARSE_MAX)
    sparse: ClassVar[bool] = False
    # ``encode`` takes the tensor's shape as a keyword ``shape=`` (lowrank); others never get it
    needs_shape: ClassVar[bool] = False

    @abstractmethod
    def encode(self, data: np.ndarray, dtype: DType, base: np.ndarray | None = None) -> bytes:
        """Encode ``data`` (``dtype.bits``, 1-D) against ``base`` (same shape) if the codec uses one."""

    @abstractmethod
    def decode(self, payload: bytes | memoryview, dtype: DType, count: int,
               base: np.ndarray | None = None) -> np.ndarray:
        """Return the ``count`` elements (``dtype.bits``, 1-D, writable) that ``payload`` encodes."""

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Codec":
        params = {k: v for k, v in config.items() if k != "id"}
        return cls(**params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class ZstdCodec(Codec):
    """A codec whose one parameter is the zstd level of its streams (0: ckv's weight profile)."""

    def __init__(self, level: int = 0) -> None:
        self.level = int(level)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level}
