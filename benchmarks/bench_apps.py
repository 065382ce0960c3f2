"""The Gradio hub as a user meets it: `gansuite demo` start-up time until the page answers, latency
per tab (edges to photo, super-resolution, unpaired translation, GAN sampling) at a 256x256 input
(p50/p95 over ``--calls`` calls over real HTTP, twice: as the page's own client makes them (upload, call,
server-sent events, download; :class:`BrowserLike`) and through gradio_client, which polls),
throughput with ``--clients`` concurrent clients (0: none), and the server's peak resident memory (VmHWM).
``GANSUITE_CPU_PLAN=fp32`` in the environment runs the server as before the CPU inference plan
(plain fp32, the library's kernels): the before/after comparison."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


class BrowserLike:
    """One call as the page in a browser makes it, over plain HTTP: upload the input files, start the
    call, read its server-sent events until the result, download the result files. Same ``predict``
    as gradio_client's ``Client``, whose file arguments (``handle_file``) it uploads.

    Why not only gradio_client: it waits on its message queue in 50 ms sleeps, up to three times a
    call (measured here on a text echo app: p50 0.157 s through gradio_client, 0.014 s like this)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.api = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=600)

    def upload(self, value: Any) -> Any:
        if not (isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData"):
            return value
        with open(value["path"], "rb") as f:
            (server_path,) = self.http.post(f"{self.api}/upload", files={"files": f}).raise_for_status().json()
        return {"path": server_path, "meta": {"_type": "gradio.FileData"}}

    def predict(self, *data: Any, api_name: str) -> list[Any]:
        call = f"{self.api}/call{api_name}"
        event_id = self.http.post(call, json={"data": [self.upload(v) for v in data]}).raise_for_status().json()
        event, result = "", None
        with self.http.stream("GET", f"{call}/{event_id['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "error":
                    raise RuntimeError(f"{api_name}: {line}")
                elif line.startswith("data: ") and event == "complete":
                    result = json.loads(line.removeprefix("data: "))
        for url in result_urls(result):
            self.http.get(url).raise_for_status()
        return result


def result_urls(value: Any) -> list[str]:
    """The URLs of the files in a call's result (nested lists and dicts)."""
    if isinstance(value, dict):
        return [value["url"]] if value.get("url") else [u for v in value.values() for u in result_urls(v)]
    if isinstance(value, list | tuple):
        return [u for v in value for u in result_urls(v)]
    return []


BROWSER, GRADIO_CLIENT = "p50 / p95 s, as the browser calls", "p50 / p95 s, through gradio_client"


def row(what: str, browser: str, gradio_client: str = "-", calls: object = "-") -> dict[str, object]:
    return {"what": what, BROWSER: browser, GRADIO_CLIENT: gradio_client, "calls": calls}


def latency_row(name: str, call: Callable[[Any], Any], clients: tuple[Any, Any], calls: int) -> dict[str, object]:
    """p50 / p95 seconds of ``calls`` calls after a warm-up, as the browser calls and through gradio_client."""
    figures = []
    for client in clients:
        call(client)
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            call(client)
            times.append(time.perf_counter() - t)
        figures.append(f"{np.percentile(times, 50):.3f} / {np.percentile(times, 95):.3f}")
    return row(name, *figures, calls)


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
        clients = (BrowserLike(url), Client(url, verbose=False))
        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "photo.png"
            with Image.open(ROOT / "datasets" / "samples" / "photos" / "coffee.jpg") as im:
                im.convert("RGB").resize((256, 256)).save(photo)
            calls = {  # each takes the client to call through
                "edges2photo (photo upload, 32 hint points)": lambda c: c.predict(
                    None, handle_file(str(photo)), "edges2photo", 32, None, api_name="/edges2photo"),
                f"upscale ({a.sr_model}, 256 -> 1024)": lambda c: c.predict(handle_file(str(photo)), a.sr_model,
                                                                            api_name="/upscale"),
                f"translate_unpaired ({a.unpaired_model}, 256 px)": lambda c: c.predict(
                    handle_file(str(photo)), a.unpaired_model, "AtoB", api_name="/translate_unpaired"),
                "sample (16 digits)": lambda c: c.predict("digits-dcgan", 0, 16, -1, api_name="/sample"),
                "interpolate (8 steps)": lambda c: c.predict("digits-dcgan", 1, 2, 8, -1, api_name="/interpolate"),
            }  # fmt: skip
            rows = []
            for name, call in calls.items():
                rows.append(latency_row(name, call, clients, a.calls))
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
                rows.append(row(f"{name}, {a.clients} concurrent gradio_client clients x {per_client}",
                                f"{a.clients * per_client / seconds:.2f} requests/s, errors: {len(errors)}",
                                calls=a.clients * per_client))  # fmt: skip
                print(rows[-1], flush=True)
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows.insert(0, row("gansuite demo start-up until the page answers, s", f"{startup:.1f}", calls=1))
    rows.append(row("server peak resident memory (VmHWM)", f"{peak:.0f} MB"))
    append_results(
        "Gradio hub (`gansuite demo`) on this CPU",
        rows,
        notes=f"CPU inference plan: {os.environ.get(PIN) or 'auto (measured)'}; client and server on the same "
        f"2 cores; total wall {time.perf_counter() - t0:.0f} s",
    )


if __name__ == "__main__":
    main()
