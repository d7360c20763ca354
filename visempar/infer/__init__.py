"""Inference: from sentences to graphs with a trained run (decoding that stops where the
graph ends, batched generation, output turned into a valid graph, prediction files)."""
