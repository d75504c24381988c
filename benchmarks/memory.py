"""Resident memory of a process, now and at its highest, as Linux reports it."""

from pathlib import Path

import psutil


def rss_bytes(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the highest resident set size the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
