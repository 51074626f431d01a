"""Benchmark: cold and warm load of MNIST and Fashion-MNIST (train + test).

Cold: each measurement runs in a fresh Python process (nothing decoded yet, the
OS file cache warm as on a user's second start). Warm: from the in-process
DatasetCache. Peak memory: tracemalloc's peak during a cold load, against the
decoded size. Prints the figures and writes benchmarks/results/loading.json.

    DASHBOARD_DATA_DIR=../shared/data python benchmarks/bench_loading.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "loading.json"
REPEATS = 5

COLD = """
import sys, time, tracemalloc
sys.path.insert(0, {root!r})
from dashboard.data.loading import load_dataset
tracemalloc.start()
t = time.perf_counter()
a = load_dataset({name!r}, "train"); b = load_dataset({name!r}, "test")
dt = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1]
decoded = a.images.nbytes + a.labels.nbytes + b.images.nbytes + b.labels.nbytes
print(dt, peak, decoded)
"""


def cold(name: str) -> dict:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", COLD.format(root=str(ROOT), name=name)],
                             capture_output=True, text=True, check=True).stdout.split()
        runs.append(tuple(float(x) for x in out))
    secs = [r[0] for r in runs]
    peak, decoded = max(r[1] for r in runs), runs[0][2]
    return {"cold_s_median": statistics.median(secs), "cold_s_min": min(secs),
            "peak_bytes": int(peak), "decoded_bytes": int(decoded), "peak_over_decoded": peak / decoded}


def warm(name: str) -> dict:
    from dashboard.data.loading import DatasetCache

    cache = DatasetCache()
    cache.get(name, "train"), cache.get(name, "test")
    secs = []
    for _ in range(1000):
        t = time.perf_counter()
        cache.get(name, "train"), cache.get(name, "test")
        secs.append(time.perf_counter() - t)
    return {"warm_s_median": statistics.median(secs), "warm_s_max": max(secs)}


def main() -> None:
    results = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
               "goals": {"cold_s_mnist": 0.3, "warm_s": 0.02, "peak_over_decoded": 2.0}}
    for name in ("mnist", "fashion-mnist"):
        results[name] = {**cold(name), **warm(name)}
        r = results[name]
        print(f"{name:<14} cold {r['cold_s_median'] * 1000:7.1f} ms (median of {REPEATS}, min "
              f"{r['cold_s_min'] * 1000:.1f})  warm {r['warm_s_median'] * 1e6:6.2f} µs  peak "
              f"{r['peak_bytes'] / 2**20:6.1f} MiB = {r['peak_over_decoded']:.2f}x decoded "
              f"({r['decoded_bytes'] / 2**20:.1f} MiB)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
