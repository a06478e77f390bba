"""Anonymous memory of this process (RssAnon in /proc/self/status: what it allocated,
not the mapped file pages the kernel can drop and reread) and its peak during a call.

Imported by the scripts that tests/test_memory.py and tests/test_predict_streaming.py
run in fresh processes (with this directory on PYTHONPATH: see :func:`environment`).
"""

from __future__ import annotations

import os
import threading
import time


def rss_anon() -> int:
    """Bytes of anonymous memory of this process now."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def peak_growth(call) -> tuple[object, int]:
    """(call(), bytes by which RssAnon peaked above its value before the call), sampled
    every 2 ms by a thread."""
    base = rss_anon()
    peak, done = [base], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = call()
    finally:
        done.set()
        sampler.join()
    return result, peak[0] - base


def environment() -> dict[str, str]:
    """os.environ with this directory on PYTHONPATH, for a script that imports rss."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here if not path else here + os.pathsep + path}
