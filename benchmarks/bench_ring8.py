"""ring8 mode coverage of the MLP GAN per loss (and unrolled vs not), each run <= --budget seconds.

Reports, from 2,000 samples: modes covered (of 8) and the fraction of high-quality samples (within
3 std of a mode), as in Metz et al. 2017 / Srivastava et al. 2017.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import append_results
from core_gan.data.toy import mode_coverage
from gansuite.cli import main as cli
from gansuite.inference import BaseGANModel

# name -> (flags, steps); each run must stay within 3 minutes on 2 CPU cores.
RECIPES = {
    "minimax (saturating)": (["--loss", "minimax"], 20_000),
    "nonsaturating (default)": ([], 20_000),
    "wgan-gp (Adam 1e-4, b=(0, 0.9), 5 critic steps, lambda 10)": (["--loss", "wgan-gp"], 6_000),
    # The Unrolled-GAN experiment: the saturating loss without the minibatch-std remedy, with and
    # without K = 5 unrolling steps, at the same number of generator steps.
    "minimax, no mbstd": (["--loss", "minimax", "--no-minibatch-std"], 4_000),
    "minimax, no mbstd, unroll 5": (["--loss", "minimax", "--no-minibatch-std", "--unroll", "5"], 4_000),
}


def run(name: str, flags: list[str], steps: int, out: Path, seed: int) -> dict[str, object]:
    t0 = time.perf_counter()
    args = ["train", "gan", "--data", "ring8", "--out", str(out), "--steps", str(steps)]
    args += ["--seed", str(seed), "--log-every", "500", "--sample-every", str(steps), *flags]
    if cli(args) != 0:
        raise SystemExit(f"training failed: {args}")
    seconds = time.perf_counter() - t0
    modes, quality = mode_coverage(BaseGANModel(out).sample(2000, seed=10_000), "ring8")
    return {
        "recipe": name,
        "flags": " ".join(flags) or "(defaults)",
        "steps": steps,
        "train s": f"{seconds:.0f}",
        "modes (of 8)": modes,
        "high-quality": f"{quality:.1%}",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", help="recipe names to run")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (flags, steps)) in enumerate(RECIPES.items()):
            if a.only and name not in a.only:
                continue
            rows.append(run(name, flags, steps, Path(tmp) / f"run{i}", a.seed))
            print(rows[-1], flush=True)
    append_results("ring8: MLP GAN mode coverage (2,000 samples)", rows)


if __name__ == "__main__":
    main()
