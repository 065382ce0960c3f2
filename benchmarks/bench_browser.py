"""The edges-to-photo tab in a real browser: seconds from a click on Translate to the page showing the
result (the outputs' status trackers hidden again), measured with the page's own clock in headless
Chromium, which shares this machine's cores with the server as a user's browser would not.

    python -m benchmarks.bench_browser [--calls 20] [--record]

Needs the ``browser`` extra (playwright) and a Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.bench_apps import wait_for_page
from benchmarks.common import append_results

ROOT = Path(__file__).resolve().parents[1]
CLICK_AND_WATCH = """() => {
  window.shownAt = [];
  const shown = records => { for (const r of records) {
    const c = r.target.className;
    if (typeof c === 'string' && c.includes('wrap') && c.includes('hide')) window.shownAt.push(performance.now());
  } };
  window.watcher?.disconnect();
  window.watcher = new MutationObserver(shown);
  window.watcher.observe(document.body, {subtree: true, attributes: true, attributeFilter: ['class']});
  const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Translate');
  window.clickedAt = performance.now();
  button.click();
}"""
SECONDS_TO_SHOWN = "() => (Math.max(...window.shownAt) - window.clickedAt) / 1000"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--port", type=int, default=7862)
    p.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on this machine (Debian: apt-get install chromium)")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-m", "gansuite", "app", "edges2photo", "--port", str(a.port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_page(f"http://127.0.0.1:{a.port}/", server)
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
            photo = Path(tmp) / "photo.png"
            with Image.open(ROOT / "datasets" / "samples" / "photos" / "coffee.jpg") as im:
                im.convert("RGB").resize((256, 256)).save(photo)
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"http://127.0.0.1:{a.port}/")
            page.locator("input[type=file]").last.set_input_files(photo)  # the photo upload, after the sketchpad
            page.wait_for_timeout(2000)
            times = []
            for _ in range(a.calls + 2):  # the first two warm up
                page.evaluate(CLICK_AND_WATCH)
                page.wait_for_timeout(2000)
                times.append(page.evaluate(SECONDS_TO_SHOWN))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    times = times[2:]
    rows = [{"what": "edges2photo (photo upload, 256 px): click on Translate -> result shown",
             "p50 s": f"{np.percentile(times, 50):.3f}", "p95 s": f"{np.percentile(times, 95):.3f}",
             "calls": a.calls}]  # fmt: skip
    print(rows[0])
    if a.record:
        append_results("The edges-to-photo tab in headless Chromium", rows,
                       notes="browser and server on the same cores")  # fmt: skip


if __name__ == "__main__":
    main()
