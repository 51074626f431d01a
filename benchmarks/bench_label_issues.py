"""Label issues on MNIST train: out-of-fold time, ranking quality on injected noise, Review page open.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_label_issues
    .venv/bin/python -m benchmarks.bench_label_issues --skip-real   # noise part only

Three measurements, printed and written to benchmarks/results/label_issues.json:

``noise``
    1% of the 60,000 labels flipped to another class at random (seed 0); the
    out-of-fold probabilities (default :class:`OOFParams`) are computed on the
    noisy labels and timed; for each cleanlab ranking method, precision and
    recall of the top 1% (600) of samples against the flipped ones, and the
    same for ``find_label_issues``' own flagged set. The real label errors of
    MNIST are also in that top 1%, so precision is a lower bound.
``real``
    The search on the real labels as the app runs it (``find_suspects``, into a
    temporary cache), timed; the number of suspects.
``page``
    The Review page under AppTest on MNIST with that search cached: the first
    run (includes decoding MNIST) and the next runs (what a user waits for once
    the data is loaded), median of 5.

The machine is shared: the load average is recorded before and after each part.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The reference data: export DASHBOARD_DATA_DIR (e.g. /work/shared/data) before running.


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-real", action="store_true", help="only the injected-noise part")
    args = parser.parse_args()

    from dashboard.data.loading import load_dataset
    from dashboard.lab import labelissues as li

    out: dict = {"cpus": os.cpu_count(), "params": li.OOFParams().to_dict()}
    ds = load_dataset("mnist", "train")
    noisy, flipped = li.flip_labels(ds.labels, 0.01, ds.n_classes, seed=0)
    before = load()
    t = time.perf_counter()
    proba = li.out_of_fold_proba(ds.images, noisy, ds.n_classes, li.OOFParams())
    oof = time.perf_counter() - t
    t = time.perf_counter()
    rec = li.noise_recovery(flipped, proba, noisy, fraction=0.01)
    out["noise"] = {"oof_seconds": round(oof, 1), "rank_seconds": round(time.perf_counter() - t, 2),
                    "n_flipped": int(len(flipped)), "methods": rec,
                    "load_before": before, "load_after": load()}
    print(f"OOF probabilities, 60,000 MNIST train, {li.OOFParams()}: {oof:.1f} s "
          f"(load {before} -> {out['noise']['load_after']})")
    for method, r in rec.items():
        print(f"  {method:<28} top {r['top']:>4}: precision {r['precision']:.3f}  recall {r['recall']:.3f}")

    if not args.skip_real:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["DASHBOARD_CACHE_DIR"] = tmp
            before = load()
            t = time.perf_counter()
            s = li.find_suspects(ds)
            real = time.perf_counter() - t
            out["real"] = {"seconds": round(real, 1), "n_suspects": len(s),
                           "load_before": before, "load_after": load()}
            print(f"search on the real labels: {real:.1f} s, {len(s):,} suspects")
            from streamlit.testing.v1 import AppTest

            script = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                      f"from dashboard.app import main\nmain(start='review')\n")
            at = AppTest.from_string(script, default_timeout=120)
            t = time.perf_counter()
            at.run()
            first = time.perf_counter() - t
            assert not at.exception, at.exception
            assert at.button(key="rv_accept"), "the page did not show the suspects"
            warm = []
            for _ in range(5):
                t = time.perf_counter()
                at.run()
                warm.append(time.perf_counter() - t)
            out["page"] = {"first_run_seconds": round(first, 3),
                           "warm_run_seconds_median": round(statistics.median(warm), 3),
                           "warm_runs": [round(w, 3) for w in warm], "load": load()}
            print(f"Review page (AppTest): first run {first:.2f} s, then median "
                  f"{statistics.median(warm):.3f} s")
    out["load_end"] = load()
    path = ROOT / "benchmarks" / "results" / "label_issues.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
