"""The summary table of benchmarks/gpu_check.sh: its JSON rows (one per measurement) -> one table,
the #20 targets judged, appended to RESULTS.md.

Targets (on a GPU): at batch 1, the fastest setting >= 3x fp32 eager images/s; at batch 32, >= 35 %
of the card's dense bf16 peak (MFU) for pix2pix and CycleGAN.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import RESULTS, append_results

SPEED_UP_AT_BATCH_1 = 3.0
MFU_AT_BATCH_32 = 35.0


def settings(row: dict) -> str:
    if "precision" not in row:
        return f"batch {row['batch']}, {row['input']}"
    flags = [
        row["precision"],
        *(["channels_last"] if row["channels_last"] else []),
        *(["compile"] if row["compile"] else []),
    ]
    return " + ".join(flags)


def table(rows: list[dict]) -> list[dict[str, object]]:
    eager = {(r["model"], r["batch"]): float(r["images/s"]) for r in rows if r.get("precision") == "fp32"}
    out = []
    for r in rows:
        base = eager.get((r["model"], r.get("batch")))
        out.append({
            "model": r["model"], "size": r.get("size", 299), "batch": r["batch"], "settings": settings(r),
            "images/s": r["images/s"], "x fp32 eager": f"{float(r['images/s']) / base:.2f}" if base else "-",
            "peak MB": r.get("peak MB", "-"), "MFU %": r.get("MFU %", "-"),
        })  # fmt: skip
    return out


def verdicts(rows: list[dict]) -> list[str]:
    """One line per target and model: met or not, with the figure."""
    lines = []
    for model in ("pix2pix", "cyclegan"):
        mine = [r for r in rows if r["model"] == model]
        eager = next((float(r["images/s"]) for r in mine if r["batch"] == 1 and r["precision"] == "fp32"), None)
        fastest = max((float(r["images/s"]) for r in mine if r["batch"] == 1), default=None)
        if eager and fastest:
            ratio = fastest / eager
            met = "met" if ratio >= SPEED_UP_AT_BATCH_1 else "not met"
            lines.append(f"{model} batch 1: fastest {ratio:.2f}x fp32 eager (target {SPEED_UP_AT_BATCH_1}x): {met}")
        mfu = [r["MFU %"] for r in mine if r["batch"] == 32 and r["precision"] == "bf16" and r["MFU %"] != "-"]
        if mfu:
            met = "met" if max(mfu) >= MFU_AT_BATCH_32 else "not met"
            lines.append(f"{model} batch 32: {max(mfu):.1f} % bf16 MFU (target {MFU_AT_BATCH_32} %): {met}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("rows", type=Path, help="JSON lines written by gpu_check.sh")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--dry-run", action="store_true", help="CPU at tiny sizes: the targets are not judged")
    a = p.parse_args()
    rows = [json.loads(line) for line in a.rows.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{a.rows}: no measurements")
    lines = ["dry run on the CPU at tiny sizes: targets not judged"] if a.dry_run else verdicts(rows)
    for line in lines:
        print(line)
    title = "GPU check (benchmarks/gpu_check.sh" + (" --dry-run)" if a.dry_run else ")")
    append_results(title, table(rows), notes="; ".join(lines), results=a.results)


if __name__ == "__main__":
    main()
