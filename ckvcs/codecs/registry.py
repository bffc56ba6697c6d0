"""Codec registry: config id → class, frame code → class.

Codecs register on import of ``ckvcs.codecs``. Unknown ids or frame codes
raise :class:`~ckvcs.errors.UnknownCodecError`.
"""
from __future__ import annotations

from typing import Any

from ..errors import UnknownCodecError
from .abc import Codec

_BY_ID: dict[str, type[Codec]] = {}
_BY_CODE: dict[int, type[Codec]] = {}


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator. Refuses to reuse an id or frame code for another class."""
    for table, key in ((_BY_ID, cls.codec_id), (_BY_CODE, cls.frame_code)):
        if table.get(key, cls) is not cls:
            raise ValueError(f"codec key {key!r} already registered to {table[key].__name__}")
        table[key] = cls
    return cls


def get_codec(config: dict[str, Any] | str) -> Codec:
    if isinstance(config, str):
        config = {"id": config}
    cls = _BY_ID.get(config.get("id", ""))
    if cls is None:
        raise UnknownCodecError(config.get("id"))
    return cls.from_config(config)


def codec_class_for_code(code: int) -> type[Codec]:
    cls = _BY_CODE.get(code)
    if cls is None:
        raise UnknownCodecError(code)
    return cls


def codec_for_code(code: int) -> Codec:
    """A default instance, enough to decode (decoding never needs encoder parameters)."""
    return codec_class_for_code(code)()


def registered_ids() -> list[str]:
    return sorted(_BY_ID)
