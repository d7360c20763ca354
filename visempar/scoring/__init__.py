"""Scoring: Smatch as the challenge's reference scorer computes it, deterministic, with
nothing dropped, plus its fine-grained components and the bootstrap.

Pure Python: no module here imports torch, transformers, peft, trl or bitsandbytes, so
scoring a file never loads a model library (`tests/test_layers.py` checks it).
"""
