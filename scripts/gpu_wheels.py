"""Wheels for a GPU machine that reaches no package index (Python 3.12, manylinux x86_64).

That machine has torch + CUDA, transformers, peft and accelerate, but not trl,
bitsandbytes, datasets, smatch, penman or evaluate. visempar brings the pinned versions of
what it lacks, and its pinned transformers and peft too (the image's transformers 5.17 is
older than the 5.23 visempar is tested with). Versions come from constraints.txt.

    python3 scripts/gpu_wheels.py download [.whl]   # where pip reaches PyPI
    python3 scripts/gpu_wheels.py check [.whl]      # exactly one wheel per pin, right tags
    python3 scripts/gpu_wheels.py install [.whl] DIR  # there: pip --no-index --no-deps --target DIR

Uses the standard library only, so any python3 runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trl", "bitsandbytes", "datasets", "dill", "multiprocess", "evaluate", "penman",
            "smatch", "transformers", "peft")
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_27_x86_64", "manylinux_2_28_x86_64", "manylinux_2_31_x86_64",
             "manylinux_2_34_x86_64", "manylinux_2_35_x86_64")
SDIST_ONLY = ("smatch",)  # built into a pure-Python wheel here, so nothing is built there


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(constraints: Path = ROOT / "constraints.txt") -> dict[str, str]:
    """`name -> version` for PACKAGES, read from constraints.txt (the one place for versions)."""
    found = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if match:
            found[normalize(match.group(1))] = match.group(2)
    missing = [p for p in PACKAGES if normalize(p) not in found]
    if missing:
        raise SystemExit(f"{constraints}: no pin for {', '.join(missing)}")
    return {p: found[normalize(p)] for p in PACKAGES}


def download_commands(dest: Path, python: str = sys.executable) -> list[list[str]]:
    """The pip commands that fetch the pinned set for cp312 manylinux x86_64 into `dest`."""
    pinned = pins()
    binary = [f"{p}=={v}" for p, v in pinned.items() if p not in SDIST_ONLY]
    platform_flags = [flag for plat in PLATFORMS for flag in ("--platform", plat)]
    commands = [[python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--python-version", PYTHON_VERSION, "--implementation", "cp", *platform_flags,
                 "-d", str(dest), *binary]]
    for name in SDIST_ONLY:
        commands.append([python, "-m", "pip", "wheel", "--no-deps", "-w", str(dest),
                         f"{name}=={pinned[name]}"])
    return commands


def wheel_tags(filename: str) -> tuple[str, str, str, str]:
    """(distribution, version, python tag, platform tag) of a wheel file name."""
    parts = filename[:-len(".whl")].split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise ValueError(f"{filename}: not a wheel file name")
    return normalize(parts[0]), parts[1], parts[-3], parts[-1]


def check(folder: Path) -> list[str]:
    """Problems with `folder` as the GPU machine's wheel set; empty when it is complete."""
    problems = []
    wheels: dict[str, list[tuple[str, str, str]]] = {}
    for path in sorted(folder.glob("*")):
        if path.suffix != ".whl":
            problems.append(f"{path.name}: not a wheel (pip --no-index --no-deps installs wheels only)")
            continue
        try:
            dist, version, py, plat = wheel_tags(path.name)
        except ValueError as err:
            problems.append(str(err))
            continue
        wheels.setdefault(dist, []).append((version, py, plat))
    for name, version in pins().items():
        found = wheels.pop(normalize(name), [])
        if not found:
            problems.append(f"{name}=={version}: missing")
            continue
        if len(found) > 1:
            problems.append(f"{name}: {len(found)} wheels ({', '.join(v for v, _, _ in found)}); "
                            "two versions stop the whole install")
        got, py, plat = found[0]
        if got != version:
            problems.append(f"{name}: wheel is {got}, constraints.txt pins {version}")
        if not any(tag in py for tag in ("py3", "cp312")):
            problems.append(f"{name}: python tag {py} does not run on CPython 3.12")
        if plat != "any" and not ("x86_64" in plat and "linux" in plat):
            problems.append(f"{name}: platform {plat} is not linux x86_64")
    problems += [f"{dist}: not in the pinned set (remove it)" for dist in wheels]
    return problems


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("download", "check", "install"):
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[1] if len(argv) > 1 else ".whl")
    if argv[0] == "download":
        folder.mkdir(parents=True, exist_ok=True)
        for command in download_commands(folder):
            subprocess.run(command, check=True)
    problems = check(folder)
    for problem in problems:
        print(f"{folder}: {problem}", file=sys.stderr)
    if problems:
        return 1
    if argv[0] == "install":
        target = argv[2] if len(argv) > 2 else tempfile.mkdtemp(prefix="visempar-site-")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--no-compile", "--upgrade", "--target", target,
                        *map(str, sorted(folder.glob("*.whl")))], check=True)
        print(target)
        return 0
    size = sum(p.stat().st_size for p in folder.glob("*.whl")) / 2**20
    print(f"{folder}: {len(pins())} pinned wheels, {size:.1f} MiB, complete", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
