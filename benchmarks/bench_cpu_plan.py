"""The CPU inference plan (``--backend auto``) against plain fp32 (``--backend torch``) for the bundled
models and Real-ESRGAN x4plus: seconds per call at 256 px (median of ``--calls``) and how far the
plan's outputs are from fp32's on the sample photos no model trained on (max and mean, in grey
levels). The plans themselves are in ``$TORCH_HOME/hub/gansuite/cpu-plans.json``.

    python -m benchmarks.bench_cpu_plan [--calls 5] [--record]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image

from apps.common import UNSEEN_PHOTOS
from benchmarks.common import append_results, grey_levels, median_seconds
from core_gan.cpu_plan import PIN
from core_gan.data.images import list_images
from gansuite.inference import Translator, Upscaler
from gansuite.weights import import_available

MODELS = {"srresnet-x4": Upscaler, "edges2photo": Translator, "green2warm": Translator, "realesrgan-x4plus": Upscaler}
SIDE = {"realesrgan-x4plus": 128}
"""Input side where 256 px would take minutes per model here (the output is 4x)."""


def photos(side: int) -> list[np.ndarray]:
    out = []
    for path in list_images(UNSEEN_PHOTOS):
        with Image.open(path) as im:
            out.append(np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--record", action="store_true")
    a = p.parse_args()
    os.environ.pop(PIN, None)
    import_available()
    rows = []
    for name, kind in MODELS.items():
        side = SIDE.get(name, 256)
        images = photos(side)
        plain, planned = kind(name, backend="torch"), kind(name, backend="auto")
        difference = grey_levels(np.stack([planned(im) for im in images]), np.stack([plain(im) for im in images]), 4)
        first = images[0]
        fp32_s, plan_s = (median_seconds(lambda m=model, x=first: m(x), a.calls) for model in (plain, planned))
        rows.append({"model": name, "input": f"{side} px", "fp32 s": f"{fp32_s:.3f}", "plan s": f"{plan_s:.3f}",
                     "speed-up": f"{fp32_s / plan_s:.2f}x", "photos": len(images),
                     "vs fp32, grey levels": difference})  # fmt: skip
        print(rows[-1], flush=True)
    if a.record:
        notes = f"median of {a.calls} calls after one warm-up; the plan as cached for this machine"
        append_results("CPU inference plan (--backend auto) against plain fp32", rows, notes=notes)


if __name__ == "__main__":
    main()
