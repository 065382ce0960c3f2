"""benchmarks/gpu_check.sh --dry-run: the GPU command runs end to end on the CPU at tiny sizes, so it
cannot rot before a GPU comes."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_dry_run_measures_everything_and_records_one_table(tmp_path):
    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "GPU_CHECK_RESULTS": str(results), "OMP_NUM_THREADS": "2"}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "passed" in done.stdout or "skipped" in done.stdout  # the CUDA tests ran (or skipped without a GPU)
    section = results.read_text()
    assert section.count("## GPU check (benchmarks/gpu_check.sh --dry-run)") == 1
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == ["pix2pix"] * 4 + ["cyclegan"] * 4 + [
        "srresnet", "FID Inception"]  # fmt: skip
