"""The Gradio hub as a user meets it: `gansuite demo` start-up time until the page answers, latency
per tab (edges to photo, super-resolution, unpaired translation, GAN sampling) at a 256x256 input
(p50/p95 over ``--calls`` calls through gradio_client, real HTTP),
throughput with ``--clients`` concurrent clients (0: none), and the server's peak resident memory (VmHWM).
``GANSUITE_CPU_PLAN=fp32`` in the environment runs the server as before the CPU inference plan
(plain fp32, the library's kernels): the before/after comparison."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import append_results
from core_gan.cpu_plan import PIN

ROOT = Path(__file__).resolve().parents[1]


def wait_for_page(url: str, process: subprocess.Popen, timeout: float = 180) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if process.poll() is not None:
            raise SystemExit(f"gansuite demo exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer in {timeout} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=7861)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--sr-model", default="srresnet-x4 x4")
    p.add_argument("--unpaired-model", default="green2warm")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput rows (0: skip them)")
    a = p.parse_args()
    from gradio_client import Client, handle_file

    url = f"http://127.0.0.1:{a.port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "gansuite", "demo", "--port", str(a.port), "--device", "cpu"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        startup = wait_for_page(url, server)
        client = Client(url, verbose=False)
        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "photo.png"
            with Image.open(ROOT / "datasets" / "samples" / "photos" / "coffee.jpg") as im:
                im.convert("RGB").resize((256, 256)).save(photo)
            calls = {  # each takes the client to call through
                "edges2photo (photo upload)": lambda c: c.predict(None, handle_file(str(photo)), "edges2photo",
                                                                  api_name="/edges2photo"),
                f"upscale ({a.sr_model}, 256 -> 1024)": lambda c: c.predict(handle_file(str(photo)), a.sr_model,
                                                                            api_name="/upscale"),
                f"translate_unpaired ({a.unpaired_model}, 256 px)": lambda c: c.predict(
                    handle_file(str(photo)), a.unpaired_model, "AtoB", api_name="/translate_unpaired"),
                "sample (16 digits)": lambda c: c.predict("digits-dcgan", 0, 16, -1, api_name="/sample"),
                "interpolate (8 steps)": lambda c: c.predict("digits-dcgan", 1, 2, 8, -1, api_name="/interpolate"),
            }  # fmt: skip
            rows = []
            for name, call in calls.items():
                call(client)  # warm-up
                times = []
                for _ in range(a.calls):
                    t = time.perf_counter()
                    call(client)
                    times.append(time.perf_counter() - t)
                rows.append({"what": name, "p50 s": f"{np.percentile(times, 50):.3f}",
                             "p95 s": f"{np.percentile(times, 95):.3f}", "calls": a.calls})  # fmt: skip
                print(rows[-1], flush=True)
            per_client = 5
            for name in ("sample (16 digits)", f"upscale ({a.sr_model}, 256 -> 1024)") if a.clients else ():
                errors: list[BaseException] = []

                def worker(call=calls[name], errors=errors) -> None:
                    own = Client(url, verbose=False)  # one client per simulated user
                    for _ in range(per_client):
                        try:
                            call(own)
                        except Exception as error:
                            errors.append(error)

                threads = [threading.Thread(target=worker) for _ in range(a.clients)]
                t = time.perf_counter()
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                seconds = time.perf_counter() - t
                for e in errors[:3]:
                    print(f"error: {type(e).__name__}: {e}", flush=True)
                rows.append({"what": f"{name}, {a.clients} concurrent clients x {per_client}",
                             "p50 s": f"{a.clients * per_client / seconds:.2f} requests/s",
                             "p95 s": f"errors: {len(errors)}", "calls": a.clients * per_client})  # fmt: skip
                print(rows[-1], flush=True)
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows.insert(0, {"what": "gansuite demo start-up until the page answers", "p50 s": f"{startup:.1f}",
                    "p95 s": "-", "calls": 1})  # fmt: skip
    rows.append({"what": "server peak resident memory (VmHWM)", "p50 s": f"{peak:.0f} MB", "p95 s": "-", "calls": "-"})
    append_results(
        "Gradio hub (`gansuite demo`) on this CPU",
        rows,
        notes=f"CPU inference plan: {os.environ.get(PIN) or 'auto (measured)'}; client and server on the same "
        f"2 cores; total wall {time.perf_counter() - t0:.0f} s",
    )


if __name__ == "__main__":
    main()
