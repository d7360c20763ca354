"""The `visempar` command line: one module per group of commands, loaded when called.

Start-up imports click and this file only: `visempar evaluate` loads the scoring module
and never the training one, and torch/transformers load only inside the commands that
run a model. `COMMANDS` is the table of contents.
"""

from __future__ import annotations

import difflib
import importlib
import os

import click

from visempar import __version__

# Training on a busy machine: OpenMP worker threads that sleep while they wait instead of
# spinning. With another busy process on the cores, spinning threads fight it for them
# (beside one busy process, a 2-thread loop of small matmuls took 33 s instead of 9.7 s;
# training steps of a SmolLM2-shaped model 1.18x longer, benchmarks/bench_load.py). On a
# quiet machine sleeping costs: 15% of the recipe's training time at version 0.3.0, and
# 40% of `predict`'s (docs/benchmarks.md). So `train` and `preflight` wait passively only
# when other processes keep the CPU busy as they start (`busy_machine`), and the other
# commands keep OpenMP's default. Read by libgomp when torch loads, so it is set before
# the command imports torch; a user's own setting wins.
PASSIVE_WAIT = ("train", "preflight")
BUSY_SHARE = 0.25  # of all cores' time, over `BUSY_WINDOW` seconds while this process sleeps
BUSY_WINDOW = 0.2


def busy_machine() -> bool:
    """Whether other processes keep the CPU busy: the share of the cores' time spent
    busy over a short window while this process sleeps (`/proc/stat`; elsewhere the
    1-minute load average against the number of cores)."""
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    try:
        total, idle = sample()
        time.sleep(BUSY_WINDOW)
        total2, idle2 = sample()
        return total2 > total and 1 - (idle2 - idle) / (total2 - total) >= BUSY_SHARE
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0] >= BUSY_SHARE * (os.cpu_count() or 1)
        except OSError:
            return True


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
        if name in PASSIVE_WAIT and "OMP_WAIT_POLICY" not in os.environ and busy_machine():
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"visempar.cli.{module}"), attr)

    def resolve_command(self, ctx, args):
        """An unknown command gets the nearest one's name, as `data splt` does."""
        if args and not args[0].startswith("-") and args[0] not in COMMANDS:
            close = difflib.get_close_matches(args[0], list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" The commands: {', '.join(sorted(COMMANDS))}."
            raise click.UsageError(f"No such command {args[0]!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx, args):
        """A usage error before any command runs (an unknown option of `visempar` itself)
        is one line and exit 1, like every other."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            raise click.ClickException(e.format_message()) from None

    def invoke(self, ctx):
        from visempar.errors import VisemparError

        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # a bad option or value: one line, exit 1, like any error
            raise click.ClickException(e.format_message().strip().splitlines()[-1]) from None
        except VisemparError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        except OSError as e:
            if e.filename is None:
                raise
            raise click.ClickException(f"{e.filename}: {e.strerror or e}") from None


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="visempar")
def main() -> None:
    """visempar: Vietnamese AMR parsing (VLSP 2025 format) with LoRA fine-tuning."""
