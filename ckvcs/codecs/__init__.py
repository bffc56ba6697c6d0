"""Codecs: how one object's bytes are stored. Importing this registers them all."""
from . import delta, lowrank, raw, tpde, xor  # noqa: F401  (registration)
from .abc import Codec
from .registry import codec_class_for_code, codec_for_code, get_codec, registered_ids

__all__ = ["Codec", "codec_class_for_code", "codec_for_code", "get_codec", "registered_ids"]
