"""Scoring workers: a worker never outlives the process that forked it."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_worker_dies_when_its_parent_is_killed(tmp_path):
    marker = tmp_path / "worker.pid"
    code = textwrap.dedent(f"""
        import os, time
        from visempar.scoring.parallel import in_parallel
        parent = os.getpid()
        def work(i):
            if os.getpid() != parent:
                open({str(marker)!r}, "w").write(str(os.getpid()))
                time.sleep(120)
            return i
        in_parallel(work, 4, workers=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(200):
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.05)
        worker = int(marker.read_text())
        assert _running(worker)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        for _ in range(100):
            if not _running(worker):
                break
            time.sleep(0.05)
        assert not _running(worker)
    finally:
        proc.kill()
        if marker.exists() and marker.read_text() and _running(int(marker.read_text())):
            os.kill(int(marker.read_text()), signal.SIGKILL)
