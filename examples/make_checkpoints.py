"""Write a small, real training run: a checkpoint directory every few steps.

Trains a small MLP with AdamW on a synthetic regression task and saves
``OUT/step-XXXX/model.safetensors`` (+ trainer_state.json) the way training
loops do, in bf16 (default) or fp32. Nothing is downloaded.

    python examples/make_checkpoints.py OUT [--steps 100] [--every 20] [--dtype bf16|fp32]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--width", type=int, default=512)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, a.width), torch.nn.GELU(),
                                torch.nn.Linear(a.width, a.width), torch.nn.GELU(), torch.nn.Linear(a.width, 8))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    target = torch.randn(64, 8)
    for step in range(1, a.steps + 1):
        x = torch.randn(128, 64)
        loss = torch.nn.functional.mse_loss(model(x), x @ target)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step % a.every == 0:
            d = a.out / f"step-{step:04d}"
            d.mkdir(parents=True, exist_ok=True)
            dt = torch.bfloat16 if a.dtype == "bf16" else torch.float32
            save_file({k: v.detach().to(dt).contiguous() for k, v in model.state_dict().items()},
                      str(d / "model.safetensors"), metadata={"format": "pt"})
            (d / "trainer_state.json").write_text(json.dumps({"global_step": step, "loss": float(loss)}))
            (d / "config.json").write_text(json.dumps({"width": a.width, "dtype": a.dtype}))
            print(f"saved {d} (loss {float(loss):.4f})")


if __name__ == "__main__":
    main()
