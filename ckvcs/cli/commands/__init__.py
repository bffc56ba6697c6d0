"""One module per group of commands; each registers on ``app`` when imported."""
