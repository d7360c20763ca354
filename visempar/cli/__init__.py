"""The `visempar` command line: one module per group of commands, loaded when called.

Start-up imports click and this file only: `visempar evaluate` loads the scoring module
and never the training one, and torch/transformers load only inside the commands that
run a model. `COMMANDS` is the table of contents.
"""

from __future__ import annotations

import importlib
import os

import click

# OpenMP worker threads that sleep while they wait instead of spinning: with another busy
# process on the cores, spinning threads fight it for them (beside one busy process, a
# 2-thread loop of small matmuls took 33 s instead of 9.7 s; training steps of a
# SmolLM2-shaped model 1.18x longer, benchmarks/bench_load.py). Read by libgomp when torch
# loads, so it is set before any command imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMMANDS = {  # name: (module under visempar.cli, function)
    "data": ("data", "data"),
    "evaluate": ("scoring", "evaluate"),
    "compare": ("scoring", "compare"),
    "ensemble": ("scoring", "ensemble"),
    "repair": ("scoring", "repair"),
    "draw": ("drawing", "draw"),
    "preflight": ("training", "preflight"),
    "train": ("training", "train"),
    "predict": ("inference", "predict"),
    "export": ("inference", "export"),
}


class Interrupted(click.ClickException):
    """Ctrl-C (or SIGTERM where a command turns it into one): one line, exit 130."""

    exit_code = 130


class Main(click.Group):
    """Commands imported on first use; every expected failure (`VisemparError`, an OS
    error on a named file, or a usage error such as a value out of range) ends as one
    `Error: ...` line and exit code 1, Ctrl-C as one line and exit code 130, and anything
    else, a bug, keeps its traceback."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"visempar.cli.{module}"), attr)

    def invoke(self, ctx):
        from visempar.errors import VisemparError

        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # a bad option or value: one line, exit 1, like any error
            raise click.ClickException(e.format_message()) from None
        except VisemparError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        except OSError as e:
            if e.filename is None:
                raise
            raise click.ClickException(f"{e.filename}: {e.strerror or e}") from None


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="visempar")
def main() -> None:
    """visempar: Vietnamese AMR parsing (VLSP 2025 format) with LoRA fine-tuning."""
