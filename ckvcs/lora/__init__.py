"""LoRA adapters over a base commit: recognising PEFT adapter dirs, merging and blending them.

``config`` reads ``adapter_config.json`` and decides what a commit records;
``delta`` holds PEFT's merge arithmetic; ``merge`` streams a base commit with
adapters merged into a model directory.
"""
from .config import ADAPTER_CONFIG, WEIGHT_FILES, LoraConfig, adapter_metadata

__all__ = ["ADAPTER_CONFIG", "WEIGHT_FILES", "LoraConfig", "adapter_metadata"]
