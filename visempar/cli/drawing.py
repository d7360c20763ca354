"""`visempar draw`: one graph of a block file as an SVG picture."""

from __future__ import annotations

import click

from visempar.cli.common import guard
from visempar.outputs import Output


@click.command()
@click.argument("path", type=click.Path())
@click.option("--index", "number", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which block of PATH to draw, counting from 1 (as `evaluate` numbers them).")
@click.option("--output", "out_path", type=click.Path(dir_okay=False), required=True,
              help="The SVG file to write.")
def draw(path, number, out_path):
    """Draw one graph of PATH (a corpus or a prediction file) as SVG, laid out by Graphviz.

    Example: visempar draw predictions.txt --index 3 --output graph3.svg
    """
    guard({"PATH": path}, Output("--output", out_path))
    from visempar.amr.io import read_blocks
    from visempar.report.draw import svg_of
    from visempar.reports import write_atomic

    blocks = read_blocks(path)
    if number > len(blocks):
        raise click.UsageError(f"--index {number}: {path} holds {len(blocks)} block(s)")
    block = blocks[number - 1]
    write_atomic(out_path, svg_of(block.graph_text) + "\n")
    click.echo(f"block {number} of {path} (line {block.line}) drawn to {out_path}")
