"""The ways GAN training fails, recognised in a run's ``metrics.jsonl`` rows: during training (the trainer
prints each warning once, when it starts, and records it) and afterwards (``gansuite diagnose RUN``).

Each detector reads the ``diag/`` figures the objectives log (core_gan.objective.Networks.diagnostics and
sample_diagnostics) beside the losses and gradient norms, and returns a :class:`Verdict`: healthy,
warning or failing, with the evidence, the steps it spans and what to try.

- **D overpowering G**: r_t = E[sign(D(real) - t)] near 1 (StyleGAN2-ADA's overfitting heuristic) while
  D's loss has fallen to a fraction of its start (the median of the first rows); failing when that lasts
  to the end with G's adversarial loss rising, else a warning.
- **Mode collapse**: the samples' diversity relative to the data's (base GANs, per class for a
  conditional one), or the MSGAN ratio of a translator's outputs to its inputs, far below 1.
- **Identity collapse** (translators): G(x) ~ x, its change a small fraction of the data's |y - x|, while
  D still tells real from generated.
- **Divergence**: non-finite losses (the anomaly events of the trainer) and gradient norms that jump
  by orders of magnitude.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core_gan.errors import UserError

Status = Literal["healthy", "warning", "failing", "not measured"]
Row = dict[str, Any]

R_T_HIGH = 0.9
"""r_t above this, D is sure of almost every real image (ADA's target is 0.6)."""
D_LOSS_FALL = 0.2
"""D's loss below this fraction of its first logged value: D wins outright."""
DIVERSITY = (0.5, 0.7)
"""Diversity relative to the data's below these: failing, warning."""
CLASS_DIVERSITY = (0.35, 0.5)
"""The lowest class's diversity below these: failing, warning."""
MSGAN = (0.1, 0.3)
"""A translator's output spread relative to its input spread below these: failing, warning."""
IDENTITY = 0.1
"""G's change below this fraction of the data's change: G returns its input."""
GRAD_JUMP = 100.0
"""A gradient norm this many times its running median is a jump."""


@dataclass(frozen=True)
class Verdict:
    failure: str
    status: Status
    evidence: str
    steps: tuple[int, int] | None = None
    advice: str = ""

    def line(self) -> str:
        span = f" (steps {self.steps[0]}-{self.steps[1]})" if self.steps else ""
        advice = f"; try {self.advice}" if self.advice and self.status in ("warning", "failing") else ""
        return f"{self.failure}: {self.status}{span}: {self.evidence}{advice}"


def read_rows(path: Path) -> tuple[list[Row], str | None]:
    """The rows of a metrics.jsonl and, when its last line is cut off (the run stopped while writing it),
    a note saying so; any other unreadable line is an error naming it."""
    if not path.is_file():
        raise UserError(f"{path}: missing; diagnose reads the training log a run writes there")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows, note = [], None
    for i, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines):
                raise UserError(f"{path}: line {i} is not JSON; is it a gansuite training log?") from None
            note = f"{path}: its last line is cut off (the run stopped while writing it); diagnosing the rows before"
    if not rows:
        raise UserError(f"{path}: no rows yet; the trainer writes one every --log-every steps")
    return rows, note


def series(rows: list[Row], key: str | Callable[[Row], float | None]) -> list[tuple[int, float]]:
    """(step, value) of every row that has the key (or for which the function gives a value)."""
    out = []
    for row in rows:
        value = key(row) if callable(key) else row.get(key)
        if isinstance(value, int | float) and "step" in row:
            out.append((int(row["step"]), float(value)))
    return out


def longest_stretch(points: list[tuple[int, bool]]) -> tuple[int, int, bool] | None:
    """The longest run of consecutive True points: (first step, last step, whether it reaches the end)."""
    best, start, length, best_length = None, None, 0, 0
    for i, (step, flag) in enumerate(points):
        if flag:
            start = step if length == 0 else start
            length += 1
            if length > best_length:
                best, best_length = (start, step, i == len(points) - 1), length
        else:
            length = 0
    if best is None or best_length < max(2, len(points) // 10):
        return None
    return best


def _worst(row: Row, prefix: str, pick: Callable[..., float]) -> float | None:
    values = [v for k, v in row.items() if k.startswith(prefix) and isinstance(v, int | float)]
    return pick(values) if values else None


def d_overpowering(rows: list[Row]) -> Verdict:
    name, advice = ("D overpowering G", "DiffAugment (--diffaugment translation+cutout), a lower D learning rate "
                    "(--lr-d), R1 (--r1), or a smaller D (--ndf, --n-layers-d)")  # fmt: skip
    r_t = series(rows, lambda r: _worst(r, "diag/r_t", max))
    d_loss = series(rows, "D/total")
    if not r_t or not d_loss:
        return Verdict(name, "not measured", "no r_t in the log (a run without a discriminator, or an older log)")
    start = statistics.median(v for _, v in d_loss[:3])
    loss_at = dict(d_loss)
    flags = [(s, v >= R_T_HIGH and s in loss_at and loss_at[s] <= D_LOSS_FALL * start) for s, v in r_t]
    stretch = longest_stretch(flags)
    last_rt = r_t[-1][1]
    if stretch is None:
        evidence = f"r_t {last_rt:.2f} at the end; D's loss {d_loss[-1][1]:.3g} (started {start:.3g})"
        return Verdict(name, "healthy", evidence)
    first, last, to_end = stretch
    g_adv = series(rows, lambda r: _worst(r, "G/adv", sum))
    during = [v for s, v in g_adv if first <= s <= last]
    rising = len(during) < 2 or during[-1] > during[0]
    trend = f"; G's adversarial loss {during[0]:.3g} -> {during[-1]:.3g}" if len(during) > 1 else ""
    evidence = (f"r_t >= {R_T_HIGH} and D's loss under {D_LOSS_FALL:.0%} of its start ({start:.3g}) for the whole "
                f"stretch{trend}")  # fmt: skip
    return Verdict(name, "failing" if to_end and rising else "warning", evidence, (first, last), advice)


def mode_collapse(rows: list[Row]) -> Verdict:
    name = "mode collapse"
    base = [r for r in rows if "diag/diversity" in r]
    if base:
        statuses = [(int(r["step"]), diversity_status(r["diag/diversity"], r.get("diag/diversity_min"))) for r in base]
        last = base[-1]
        lowest = f" (lowest class {last['diag/diversity_min']:.2f})" if "diag/diversity_min" in last else ""
        what = f"diversity {last['diag/diversity']:.2f} of the data's{lowest}"
        advice = "minibatch-stddev in D (--minibatch-std), a lower learning rate, or --unroll K"
    else:
        msgan = series(rows, "diag/msgan")
        if not msgan:
            return Verdict(name, "not measured", "no diversity figures in the log (they come with the sample grids)")
        statuses = [(s, level(v, MSGAN)) for s, v in msgan]
        what = f"the outputs vary {msgan[-1][1]:.2f} times as much as the inputs (MSGAN ratio)"
        advice = "DiffAugment, a lower D learning rate, or more data"
    status = statuses[-1][1]
    stretch = longest_stretch([(s, v != "healthy") for s, v in statuses])
    steps = (stretch[0], stretch[1]) if stretch and status != "healthy" else None
    return Verdict(name, status, f"{what} at step {statuses[-1][0]}", steps, advice)


def level(value: float, limits: tuple[float, float]) -> Status:
    return "failing" if value < limits[0] else "warning" if value < limits[1] else "healthy"


def diversity_status(mean: float, lowest: float | None) -> Status:
    """The worse of the mean diversity against DIVERSITY and the lowest class's against CLASS_DIVERSITY."""
    levels = [level(mean, DIVERSITY), level(lowest, CLASS_DIVERSITY) if lowest is not None else "healthy"]
    return "failing" if "failing" in levels else "warning" if "warning" in levels else "healthy"


def identity_collapse(rows: list[Row]) -> Verdict:
    name = "identity collapse"
    advice = "a lower identity weight (--lambda-identity), a larger crop, or checking that A and B differ"

    def ratio(row: Row) -> float | None:
        changes = [(v, row.get("diag/data_" + k.removeprefix("diag/"))) for k, v in row.items()
                   if k.startswith("diag/change")]  # fmt: skip
        values = [c / d for c, d in changes if isinstance(d, int | float) and d > 1e-6]
        return min(values) if values else None

    ratios = series(rows, ratio)
    if not ratios:
        return Verdict(name, "not measured", "no change figures in the log (not a translator, or an older log)")
    r_t = dict(series(rows, lambda r: _worst(r, "diag/r_t", max)))
    flags = [(s, v < IDENTITY and r_t.get(s, 1.0) >= 0.5) for s, v in ratios]
    stretch = longest_stretch(flags)
    last = ratios[-1][1]
    if stretch is None:
        return Verdict(name, "healthy", f"G changes its input by {last:.2f} of the data's own change")
    first, end, to_end = stretch
    evidence = f"G's change under {IDENTITY:.0%} of the data's (last {last:.3f}) while D still tells them apart"
    return Verdict(name, "failing" if to_end else "warning", evidence, (first, end), advice)


def divergence(rows: list[Row]) -> Verdict:
    name = "divergence"
    advice = "a lower learning rate, --anomaly-retries N, or fp32 (--precision fp32)"
    events = [r for r in rows if "event" in r and ("inf" in r["event"] or "nan" in r["event"])]
    if events:
        stopped = any("stopped" in r["event"] and "resumed" not in r["event"] for r in events)
        first, last = int(events[0].get("step", 0)), int(events[-1].get("step", 0))
        evidence = f"{len(events)} non-finite step(s): {events[-1]['event'].split(';')[0]}"
        return Verdict(name, "failing" if stopped else "warning", evidence, (first, last), advice)
    for key in sorted({k for r in rows for k in r if k.startswith("grad_norm/")}):
        values = series(rows, key)
        for i in range(3, len(values)):
            median = statistics.median(v for _, v in values[:i])
            if values[i][1] > GRAD_JUMP * max(median, 1e-12):
                jump = f"{key} jumped to {values[i][1]:.3g} ({values[i][1] / median:.0f} x its median)"
                return Verdict(name, "warning", jump, (values[i][0], values[i][0]), advice)
    return Verdict(name, "healthy", "every loss finite, no jump in the gradient norms")


DETECTORS = (d_overpowering, mode_collapse, identity_collapse, divergence)


def diagnose(rows: list[Row]) -> list[Verdict]:
    return [detect(rows) for detect in DETECTORS]


class Watch:
    """The detectors during training: :meth:`update` with each logged row returns the verdicts that have
    just turned to warning or failing (each failure mode is reported once until it recovers). Nothing is
    said before ``quiet_until`` (a fresh G draws one blob: a collapse that is only the start)."""

    def __init__(self, rows: list[Row] | None = None, quiet_until: int = 0) -> None:
        self.rows = list(rows or [])
        self.quiet_until = quiet_until
        self.raised = {v.failure for v in diagnose(self.rows) if v.status in ("warning", "failing")}

    def update(self, row: Row) -> list[Verdict]:
        self.rows.append(row)
        if row.get("step", 0) < self.quiet_until:
            return []
        new = []
        for verdict in diagnose(self.rows):
            bad = verdict.status in ("warning", "failing")
            if bad and verdict.failure not in self.raised:
                new.append(verdict)
                self.raised.add(verdict.failure)
            elif not bad:
                self.raised.discard(verdict.failure)
        return new
