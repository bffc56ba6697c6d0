"""Committing from a training loop with the Python API (no files needed).

    python examples/train_loop.py REPO_DIR
"""
from __future__ import annotations

import sys

import torch

import ckvcs


def main() -> None:
    repo = ckvcs.Repo.init(sys.argv[1]) if len(sys.argv) > 1 else ckvcs.Repo.init("runs/api-demo")
    model = torch.nn.Linear(256, 256)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for step in range(1, 61):
        loss = model(torch.randn(32, 256)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step % 20 == 0:
            res = repo.commit(model.state_dict(), message=f"loss {loss.item():.4f}", step=step)
            print(f"step {step}: commit {res.id[:12]} tag {res.tag}, stored {res.stored_bytes} of {res.raw_bytes} bytes")
    weights = repo.load("step-40")                       # dict[str, torch.Tensor], bit-exact
    print("step-40 weight norm:", weights["weight"].norm().item())
    print("one tensor, lazily:", repo.open("HEAD~1")["bias"].shape)


if __name__ == "__main__":
    main()
