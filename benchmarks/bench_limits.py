"""Every crafted input of issue 14 against the real server: time to a message, peak memory.

Upload cases go through the app under ``streamlit run`` with its default limits, in
headless Chromium, each in a new tab (a new session): the file is given to the real
file input, and the time until the page shows the refusal (or the loaded set) is
measured, with the server's peak resident memory (VmHWM from /proc/<pid>/status,
reset before each case through /proc/<pid>/clear_refs) above its idle memory.
Cases that are not uploads (prediction images, the CLI on devices, a download from
an endless stream) run in a child process each, measured the same way (its
ru_maxrss above its own start-up).

Goal per case: refused or served within 1 s and <= 512 MB above idle, no traceback.

    .venv/bin/python -m benchmarks.bench_limits

Printed as a table and written to benchmarks/results/limits.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import crafted  # noqa: E402
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, goto_app, wait_idle  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "limits.json"
FRESH = ":not([data-stale=true])"
GOAL_S, GOAL_MB = 1.0, 512


def status_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def reset_peak(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


# (case, file name, builder, text the page must show)
UPLOADS = [
    ("npz 2x4000x4000 zeros (31 KB)", "huge.npz", crafted.npz_huge_images, "DASHBOARD_MAX_IMAGE_SIDE"),
    ("npz 2x1000x1000, labels 0 and 999 (2.4 KB) + overview", "far.npz", crafted.npz_far_labels,
     "2 images of 1000x1000, 2 classes"),
    ("idx.gz with a forged size (4.2 MB) + labels", None, None, "DASHBOARD_MAX_DECODED_MB"),
    ("csv.gz holding 1 GB (1.9 MB)", "big.csv.gz", crafted.csv_gz_big, "DASHBOARD_MAX_DECODED_MB"),
    ("npz zip bomb, 1 GB in 1 MB", "bomb.npz", crafted.npz_zip_bomb, "DASHBOARD_MAX_DECODED_MB"),
    ("csv 2,000,000 columns x 120 rows (4 MB)", "wide.csv", crafted.csv_wide_first_line, "2,000,000 columns"),
    ("csv ';'-separated", "semi.csv", crafted.csv_semicolons, "use commas"),
    ("csv UTF-8 character across byte 65,536", "utf8.csv", crafted.csv_utf8_across_64k, "12 images of 8x8"),
    ("csv labels 0 and 255", "labels.csv", crafted.csv_labels_0_and_255, "20 images of 8x8, 2 classes"),
]


def run_uploads(server: StreamlitServer) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    pid = server.proc.pid
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctx.set_default_timeout(180_000)  # a shared 2-core machine can be slow
        for case, name, build, shown in UPLOADS:
            if build is None:
                files = [{"name": "train-images-idx3-ubyte.gz", "mimeType": "application/octet-stream",
                          "buffer": crafted.idx_gz_forged()},
                         {"name": "train-labels-idx1-ubyte", "mimeType": "application/octet-stream",
                          "buffer": crafted.idx_labels(10)}]
            else:
                files = [{"name": name, "mimeType": "application/octet-stream", "buffer": build()}]
            size = sum(len(f["buffer"]) for f in files)
            page = ctx.new_page()
            goto_app(page, server.url)
            idle = status_mb(pid)["VmRSS"]
            reset_peak(pid)
            page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary').first.click()
            upload_input = page.locator(f".st-key-upload_files{FRESH} input[type=file]")
            t0 = time.perf_counter()
            upload_input.set_input_files(files=files)
            page.get_by_text(shown, exact=False).first.wait_for(timeout=120_000)
            seconds = time.perf_counter() - t0
            if "overview" in case:  # and open the Dataset overview of it
                t1 = time.perf_counter()
                page.locator('.st-key-app_nav a').filter(has_text="Dataset overview").click()
                page.get_by_role("heading", name="Dataset overview").wait_for(timeout=120_000)
                wait_idle(page, 120_000)
                seconds_overview = time.perf_counter() - t1
            else:
                seconds_overview = None
            wait_idle(page, 120_000)
            traceback = page.locator('[data-testid="stException"]').count() > 0
            mem = status_mb(pid)
            rows.append({
                "case": case, "where": "server (Chromium upload)", "input_bytes": size,
                "seconds_to_message": round(seconds, 3),
                "seconds_overview_page": round(seconds_overview, 3) if seconds_overview else None,
                "peak_mb_above_idle": round(mem["VmHWM"] - idle, 1), "idle_mb": round(idle, 1),
                "traceback": traceback,
            })
            print(f"  {case}: {rows[-1]['seconds_to_message']} s, +{rows[-1]['peak_mb_above_idle']} MB",
                  flush=True)
            page.close()
        # Uploads pile up? Four in one tab, then the tab closed: held once, freed.
        page = ctx.new_page()
        goto_app(page, server.url)
        idle = status_mb(pid)["VmRSS"]
        reset_peak(pid)
        page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary').first.click()
        data = crafted.npz_bytes(images=__import__("numpy").zeros((60, 1000, 1000), "uint8"),
                                 labels=__import__("numpy").arange(60) % 2)
        t0 = time.perf_counter()
        for i in range(4):
            page.locator(f".st-key-upload_files{FRESH} input[type=file]").set_input_files(
                files=[{"name": f"set{i}.npz", "mimeType": "application/octet-stream", "buffer": data}])
            page.get_by_text(f"Loaded set{i}", exact=False).first.wait_for(timeout=120_000)
            wait_idle(page, 120_000)
        seconds = time.perf_counter() - t0
        held = status_mb(pid)["VmRSS"] - idle
        peak = status_mb(pid)["VmHWM"] - idle
        page.close()
        rows.append({"case": "4 uploads of 60 MB decoded in one tab", "where": "server (Chromium upload)",
                     "input_bytes": len(data) * 4, "seconds_to_message": round(seconds / 4, 3),
                     "peak_mb_above_idle": round(peak, 1), "held_mb_after_4": round(held, 1),
                     "idle_mb": round(idle, 1), "traceback": False})
        print(f"  4 uploads: held {held:.0f} MB after the fourth, peak +{peak:.0f} MB", flush=True)
        browser.close()
    return rows


CHILD = r"""
import json, resource, sys, time
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
outcome = "served"
try:
{body}
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)[:160]
seconds = time.perf_counter() - t0
# The CLI cases run a grandchild: its peak is RUSAGE_CHILDREN's, counted from 0.
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({{"seconds": seconds, "peak": peak, "outcome": outcome}}))
"""


def in_child(body: str, env: dict | None = None) -> dict:
    code = CHILD.format(body="\n".join("    " + line for line in body.strip().splitlines()))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_others() -> list[dict]:
    rows = []
    prep = "from tests import crafted; from dashboard.lab.imageprep import prepare_upload\n"
    for width in (100_000, 25_000_000):
        r = in_child(prep + f"d = crafted.png_strip({width})\nprepare_upload(d, (28, 28))")
        rows.append({"case": f"prediction PNG {width:,}x1", "where": "in-process (imageprep)", **r})
    cli = ("import subprocess, sys\n"
           "p = subprocess.run([sys.executable, '-m', 'dashboard', 'info', {!r}], capture_output=True, text=True,"
           " timeout=60)\n"
           "outcome = 'exit %d: %s' % (p.returncode, p.stderr.strip()[:160])")
    with tempfile.TemporaryDirectory() as tmp:
        fifo = Path(tmp) / "pipe.csv"
        os.mkfifo(fifo)
        for case, target in (("CLI info /dev/zero", "/dev/zero"), ("CLI info FIFO", str(fifo))):
            r = in_child(cli.format(target))
            rows.append({"case": case, "where": "CLI subprocess", **r})
    endless = r"""
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dashboard.data.catalog import CATALOG
from dashboard.data.download import fetch_dataset
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.end_headers()
        block = bytes(range(256)) * 256
        try:
            for _ in range(200_000):
                self.wfile.write(block)
        except OSError:
            pass
httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
import tempfile
with tempfile.TemporaryDirectory() as tmp:
    fetch_dataset(replace(CATALOG["mnist"], mirrors=(f"http://127.0.0.1:{httpd.server_address[1]}/",)), tmp)
"""
    r = in_child(endless)
    rows.append({"case": "fetch from an endless HTTP stream", "where": "in-process (download)", **r})
    for row in rows:
        row["seconds_to_message"] = round(row.pop("seconds"), 3)
        row["peak_mb_above_idle"] = round(row.pop("peak"), 1)
        row["traceback"] = "Traceback" in row["outcome"]
    return rows


def main() -> None:
    data_dir = Path(os.environ.get("DASHBOARD_DATA_DIR", ROOT.parent / "shared" / "data"))
    load_start = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        server = StreamlitServer(Path(tmp) / "runs", Path(tmp) / "cache", data_dir, log=Path(tmp) / "st.log")
        server.start()
        try:
            rows = run_uploads(server)
            log = server.log_text()
        finally:
            server.stop()
    rows += run_others()
    for row in rows:
        row["within_goal"] = (row["seconds_to_message"] <= GOAL_S and row["peak_mb_above_idle"] <= GOAL_MB
                              and not row["traceback"])
    result = {
        "what": "issue 14's crafted inputs against the real server (uploads in Chromium) and in child "
                "processes; peak memory above idle, time until the message",
        "goal": {"seconds": GOAL_S, "peak_mb_above_idle": GOAL_MB},
        "uptime_load_avg_start": [round(x, 2) for x in load_start],
        "uptime_load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
        "wall_seconds": round(time.time() - started, 1),
        "server_log_has_traceback": "Traceback" in log,
        "cases": rows,
    }
    print(f"\n{'case':<58} {'s':>7} {'+MB':>7}  ok")
    for row in rows:
        print(f"{row['case']:<58} {row['seconds_to_message']:>7.3f} {row['peak_mb_above_idle']:>7.1f}  "
              f"{'yes' if row['within_goal'] else 'NO'}")
    print(f"load average (1, 5, 15 min): start {result['uptime_load_avg_start']}, "
          f"end {result['uptime_load_avg_end']} on {os.cpu_count()} cores")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
