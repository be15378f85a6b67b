"""Median wall time of `tiermon statusline` against `python -c pass` (SPEC §5: ≤ 50 ms).

Run: .venv/bin/python bench/statusline_timing.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

PAYLOAD = Path(__file__).resolve().parent.parent / "tests" / "payloads" / "no_limits.json"


def median_ms(cmd: list[str], data: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, input=data, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    data = PAYLOAD.read_bytes()
    exe = str(Path(sys.executable).with_name("tiermon"))
    base = median_ms([sys.executable, "-c", "pass"], data, runs)
    ours = median_ms([exe, "statusline"], data, runs)
    print(f"python -c pass {base:.1f} ms · tiermon statusline {ours:.1f} ms · ratio {ours / base:.2f} · "
          f"added {ours - base:.1f} ms")


if __name__ == "__main__":
    main()
