"""The one training loop every GAN in gansuite runs on.

The trainer owns the step order (k discriminator steps, then one generator step), the optimisers
and their schedules, mixed precision, channels_last, the EMA of the generators, logging
(``metrics.jsonl``, ``losses.png``, progress bar), sample grids, atomic checkpoints with exact
resume, and the NaN/inf guard. What is optimised is the objective's business.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from core_gan.checkpoint import rng_state, set_rng_state
from core_gan.config import option
from core_gan.data.stream import batch_stream
from core_gan.device import (
    DeviceName,
    PrecisionName,
    compile_available,
    select_device,
    select_precision,
)
from core_gan.diagnosis import Watch, read_rows
from core_gan.distributed import barrier, current_world, gather_objects, local_device, mean_across, wrap_ddp
from core_gan.errors import UserError
from core_gan.loggers import LoggerName
from core_gan.nn import count_parameters
from core_gan.objective import Losses, Objective
from core_gan.plots import save_preview
from core_gan.rundir import RunDirectory
from core_gan.speed import retain_freed_memory, swap_cpu_layers


@dataclass(frozen=True)
class TrainConfig:
    """How to train, independent of what is trained.

    ``lr_policy`` and ``decay_steps``: see :func:`_schedule`. ``ema``: decay of the EMA of the
    generators (0 = off); exported weights are the EMA ones when on. ``eval_every``: how often the
    trainer's evaluator (e.g. FID) runs, 0 = never. ``best_metric``: an evaluator metric, higher is
    better, whose best value keeps ``checkpoints/best.pt`` and the inference weights in ``RUN/best/``.
    ``deterministic``: deterministic kernels only (with ``seed``, two CPU runs are bitwise identical).
    ``checkpoint_keep``: also keep the newest K numbered checkpoints (0 = ``last.pt`` only).
    ``anomaly_retries``: after a NaN/inf, go back to the last checkpoint at half the learning rate, at
    most this many times. ``sync_bn``: SyncBatchNorm under DDP (CUDA). ``cpu_swaps``: on the CPU, the
    layer swaps and the allocator setting of core_gan.speed (off: the reference configuration).
    """

    steps: int = 10_000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adam"
    d_steps: int = 1
    lr_policy: str = "linear"
    decay_steps: int = 0
    ema: float = 0.0
    device: DeviceName = option("auto", "where to train: auto picks cuda, then mps, then cpu")
    precision: PrecisionName = option(
        "fp32", "autocast precision; auto: bf16 on CUDA (fp16 without bf16), bf16 on a CPU only where measured faster"
    )
    channels_last: bool = option(False, "channels-last memory layout for convolutions")
    compile: bool = option(False, "torch.compile G and D")
    sync_bn: bool = option(False, "under torchrun on GPUs: batch statistics over all processes")
    deterministic: bool = option(False, "deterministic kernels only: with --seed, repeatable runs")
    fused_optimizer: bool = True
    cpu_swaps: bool = True
    seed: int = option(0, "seed of every random draw (weights, data order, augmentation, noise)")
    num_workers: int = option(0, "data-loading worker processes", low=0)
    log_every: int = option(100, "steps between rows of metrics.jsonl", low=1)
    sample_every: int = option(1000, "steps between sample grids in RUN/samples", low=1)
    checkpoint_every: int = option(1000, "steps between checkpoints (RUN/checkpoints/last.pt)", low=1)
    checkpoint_keep: int = option(0, "also keep the newest K numbered checkpoints (0: last.pt only)", low=0)
    anomaly_retries: int = option(0, "on NaN/inf: back to the last checkpoint at half the lr, at most N times", low=0)
    logger: LoggerName = option(
        "tensorboard",
        "mirror metrics.jsonl and the samples: TensorBoard events in RUN/tb, "
        "also synced to W&B with wandb (installed separately), or none",
    )
    eval_every: int = 0
    best_metric: str = ""
    preview_count: int = 64


Evaluator = Callable[[nn.ModuleDict], dict[str, float]]
"""Given the generators (in eval mode), returns named metrics, e.g. FID or validation PSNR."""


class Divergence(UserError):
    """A loss or gradient norm became NaN or infinite."""


def _optimizer(
    params: list[nn.Parameter], lr: float, config: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """RMSProp (WGAN) or Adam; Adam is the fused kernel where the device has one (CPU and CUDA):
    on a pix2pix step the per-tensor Adam loop was half of the CPU time."""
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    fused = config.fused_optimizer and device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, betas=config.betas, fused=fused or None)


def _schedule(config: TrainConfig) -> Callable[[int], float]:
    """Learning-rate factor per step. ``linear``: constant, then linear to 0 over the last
    ``decay_steps`` (pix2pix's 100 + 100 epochs); ``step``: x0.1 every ``decay_steps``; ``cosine``:
    half a cosine from 1 to 0 over the whole run (reaching 0 at the last step, not halfway);
    ``halving``: x0.5 at the fractions of the run in HALVINGS."""
    total, decay = config.steps, config.decay_steps

    def linear(step: int) -> float:
        start = total - decay
        return 1.0 if decay <= 0 or step < start else max(0.0, (total - step) / decay)

    def stepwise(step: int) -> float:
        return 0.1 ** (step // decay) if decay > 0 else 1.0

    def cosine(step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    def halving(step: int) -> float:
        return 0.5 ** sum(step >= f * total for f in HALVINGS)

    return {"linear": linear, "step": stepwise, "cosine": cosine, "halving": halving}[config.lr_policy]


HALVINGS = (1 / 8, 1 / 4, 1 / 2, 3 / 4)
"""``halving``: ESRGAN's schedule (section 4.1), the rate halved at 50k, 100k, 200k and 300k of 400k steps."""


def _grad_norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Global L2 norm of the gradients, without a host-device sync."""
    grads = [p.grad.detach() for p in params if p.grad is not None]
    return torch.stack(torch._foreach_norm(grads)).float().norm() if grads else torch.zeros(())


class Trainer:
    """Trains ``objective`` on ``dataset`` into ``run_dir`` (see SPEC.md's run-directory layout).

    ``model_meta`` is what rebuilds the generators at inference (written to ``model.json``);
    ``settings`` is every other setting worth recording in ``config.json``.

    Under ``torchrun`` (see :mod:`core_gan.distributed`) every process runs this same loop on its
    shard of each epoch with ``batch_size`` images per step; the objective's networks are wrapped in
    DistributedDataParallel, so the global batch is ``batch_size x world size``, and only rank 0
    writes into ``run_dir``.
    """

    def __init__(
        self,
        objective: Objective,
        dataset: Dataset,
        run_dir: str | Path,
        config: TrainConfig,
        model_meta: dict[str, Any],
        settings: dict[str, Any] | None = None,
        preview_reference: torch.Tensor | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.objective = objective
        self.dataset = dataset
        self.run_dir = Path(run_dir)
        self.files = RunDirectory(run_dir)
        self.config = config
        self.model_meta = model_meta
        self.settings = settings or {}
        self.preview_reference = preview_reference
        self.evaluator = evaluator
        self.world = current_world()
        self.device = local_device(select_device(config.device), self.world)
        self.precision = select_precision(self.device, config.precision)
        self.generators = objective.generators.to(self.device)
        self.discriminators = objective.discriminators.to(self.device)
        if self.device.type == "cpu" and config.cpu_swaps:
            retain_freed_memory()
        for networks in (self.generators, self.discriminators):
            self._place(networks)
        if self.world.size > 1:
            wrapped = (wrap_ddp(nets, self.device, config.sync_bn) for nets in (self.generators, self.discriminators))
            objective.use_networks(*wrapped)
        self.g_params = [p for p in self.generators.parameters() if p.requires_grad]
        self.d_params = [p for p in self.discriminators.parameters() if p.requires_grad]
        self.opt_g = _optimizer(self.g_params, config.lr_g, config, self.device)
        self.opt_d = _optimizer(self.d_params, config.lr_d, config, self.device) if self.d_params else None
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, _schedule(config))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, _schedule(config)) if self.opt_d else None
        self.auxiliaries = objective.auxiliaries
        self.opt_aux: torch.optim.Optimizer | None = None
        self.sched_aux: torch.optim.lr_scheduler.LambdaLR | None = None
        self._pending_aux: dict[str, Any] | None = None
        """An auxiliaries' state read from a checkpoint before the first batch created them."""
        self._asked_for_auxiliaries = False
        if len(objective.auxiliaries):
            self._adopt_auxiliaries()
        self.scaler = self.precision.grad_scaler()
        self.ema = self._make_ema() if config.ema > 0 else None
        self.step = 0
        self.best = -math.inf
        self._window: list[Losses] = []
        self._real: tuple[torch.Tensor, ...] | None = None
        self._sample_figures: dict[str, float] = {}
        """The diagnostics of the latest sample grid, logged with every row until the next grid."""
        self.watch = Watch()
        self._window_start = time.perf_counter()
        self._window_first_step = 0
        self._t0 = time.perf_counter()

    @property
    def checkpoint_path(self) -> Path:
        return self.files.last

    def _place(self, networks: nn.ModuleDict) -> None:
        """Networks onto the device, with the CPU swaps, memory layout and compilation asked for."""
        networks.to(self.device)
        if self.device.type == "cpu" and self.config.cpu_swaps:
            swap_cpu_layers(networks)
        if self.config.channels_last:
            networks.to(memory_format=torch.channels_last)
        if self.config.compile and compile_available(self.device):
            for module in networks.values():
                module.compile()

    def _adopt_auxiliaries(self) -> None:
        """The objective's auxiliaries placed like the other networks, with their optimiser (G's rate and
        schedule); the state of a checkpoint read before they existed goes into them now."""
        self.auxiliaries = self.objective.auxiliaries
        self._place(self.auxiliaries)
        if self.world.size > 1:
            self.objective.use_auxiliaries(wrap_ddp(self.auxiliaries, self.device, self.config.sync_bn))
        self.aux_params = [p for p in self.auxiliaries.parameters() if p.requires_grad]
        self.opt_aux = _optimizer(self.aux_params, self.config.lr_g, self.config, self.device)
        self.sched_aux = torch.optim.lr_scheduler.LambdaLR(self.opt_aux, _schedule(self.config))
        if self._pending_aux is not None:
            self._load_auxiliaries(self._pending_aux)
            self._pending_aux = None

    def _create_auxiliaries(self, batch: tuple[torch.Tensor, ...]) -> None:
        """Let the objective create its data-dependent auxiliaries from the first batch. Their random
        initialisation draws from a fork of the RNG, so a resumed run, which creates them again and then
        loads their weights, continues with exactly the draws of an uninterrupted one."""
        if self._asked_for_auxiliaries:
            return
        self._asked_for_auxiliaries = True
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            created = self.objective.create_auxiliaries(batch)
        if created:
            self._adopt_auxiliaries()

    def _load_auxiliaries(self, state: dict[str, Any]) -> None:
        assert self.opt_aux is not None and self.sched_aux is not None
        self.auxiliaries.load_state_dict(state["auxiliaries"])
        self.opt_aux.load_state_dict(state["opt_aux"])
        self.sched_aux.load_state_dict(state["sched_aux"])

    def _auxiliaries_state(self) -> dict[str, Any]:
        if self.opt_aux is None:
            return self._pending_aux or {}
        assert self.sched_aux is not None
        return {
            "auxiliaries": self.auxiliaries.state_dict(),
            "opt_aux": self.opt_aux.state_dict(),
            "sched_aux": self.sched_aux.state_dict(),
        }

    def _make_ema(self) -> nn.ModuleDict:
        ema = copy.deepcopy(self.generators).eval()
        ema.requires_grad_(False)
        return ema

    @torch.no_grad()
    def _update_ema(self) -> None:
        assert self.ema is not None
        ema_params = list(self.ema.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in self.generators.parameters()], 1 - self.config.ema)
        for b_ema, b in zip(self.ema.buffers(), self.generators.buffers(), strict=True):
            b_ema.copy_(b)

    def _to_device(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        out = []
        for t in batch:
            t = t.to(self.device, non_blocking=True)
            if self.config.channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            out.append(t)
        return tuple(out)

    def _optimise(self, optimizers: list[torch.optim.Optimizer], params: list[nn.Parameter], loss: torch.Tensor):
        """One update of every optimiser in ``optimizers`` on ``loss``; the gradient norm of ``params``."""
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for optimizer in optimizers:
            self.scaler.unscale_(optimizer)
        norm = _grad_norm(params)
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()
        return norm

    def train_step(self, stream: Iterator[tuple[torch.Tensor, ...]]) -> Losses:
        """k discriminator updates on k fresh batches, then one generator update on the last batch."""
        record: Losses = {}
        batch: tuple[torch.Tensor, ...] = ()
        if self.opt_d is not None:
            self.discriminators.requires_grad_(True)
            for _ in range(self.config.d_steps):
                batch = self._to_device(next(stream))
                self._create_auxiliaries(batch)
                with self.precision.autocast():
                    d_losses = self.objective.d_loss(batch)
                record["grad_norm/D"] = self._optimise([self.opt_d], self.d_params, d_losses["total"])
                self.objective.after_d_step()
            record.update({f"D/{k}": v.detach() for k, v in d_losses.items()})
            self.discriminators.requires_grad_(False)
        else:
            batch = self._to_device(next(stream))
            self._create_auxiliaries(batch)
        with self.precision.autocast():
            g_losses = self.objective.g_loss(batch)
        g_optimizers = [self.opt_g] if self.opt_aux is None else [self.opt_g, self.opt_aux]
        record["grad_norm/G"] = self._optimise(g_optimizers, self.g_params, g_losses["total"])
        record.update({f"G/{k}": v.detach() for k, v in g_losses.items()})
        record.update({f"diag/{k}": v for k, v in self.objective.diagnostics.items()})
        self.objective.diagnostics.clear()
        if self.ema is not None:
            self._update_ema()
        for scheduler in (self.sched_g, self.sched_d, self.sched_aux):
            if scheduler is not None:
                scheduler.step()
        return record

    def _batches_per_step(self) -> int:
        return self.config.d_steps if self.opt_d is not None else 1

    def fit(self, resume: bool = False) -> Path:
        """Train to ``config.steps`` (continuing from ``checkpoints/last.pt`` when ``resume``)."""
        self._prepare_run_dir(resume)
        torch.manual_seed(self.config.seed + self.world.rank)
        if resume:
            self._load(self.files.load_last())
        elif self.world.is_main:
            self._write_config()
        if self.world.is_main:
            self.files.open_logger(self.config.logger, self.step if resume else None)
            self.watch = Watch(self._logged_rows() if resume else [], quiet_until=self.config.steps // 10)
        if self.world.size > 1 and self.world.is_main:
            tqdm.write(
                f"{self.world.size} processes x batch {self.config.batch_size} = "
                f"global batch {self.global_batch_size} ({self.device.type}, DistributedDataParallel)"
            )
        retries = self.config.anomaly_retries
        try:
            with deterministic_algorithms(self.config.deterministic):
                while True:
                    try:
                        self._train_to_the_end()
                        break
                    except Divergence as e:
                        if retries == 0 or not self.checkpoint_path.is_file():
                            if self.world.is_main:
                                self.files.log({"step": self.step, "event": str(e)})
                            raise
                        retries -= 1
                        self._recover(e)
            self._save()
            if self.world.is_main:
                self.files.plot_losses()
        finally:
            self.files.close_logger()
        barrier(self.world)
        return self.run_dir

    def _train_to_the_end(self) -> None:
        stream = batch_stream(
            self.dataset,
            self.config.batch_size,
            seed=self.config.seed,
            start_step=self.step * self._batches_per_step(),
            rank=self.world.rank,
            world_size=self.world.size,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        self.generators.train()
        self.discriminators.train()
        self._window = []
        self._window_first_step = self.step
        self._window_start = time.perf_counter()
        with tqdm(
            total=self.config.steps,
            initial=self.step,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            disable=not self.world.is_main,
        ) as bar:
            while self.step < self.config.steps:
                self._window.append(self.train_step(stream))
                self.step += 1
                bar.update(1)
                self._after_step(bar)
        self._flush_window(bar=None)

    def _recover(self, error: Divergence) -> None:
        """``--anomaly-retries``: back to the last good checkpoint with both learning rates halved (the
        halving is kept in the schedulers' state, so it survives a later ``--resume``)."""
        self._load(self.files.load_last())
        pairs = ((self.opt_g, self.sched_g), (self.opt_d, self.sched_d), (self.opt_aux, self.sched_aux))
        for optimizer, scheduler in pairs:
            if optimizer is None or scheduler is None:
                continue
            scheduler.base_lrs = [lr / 2 for lr in scheduler.base_lrs]
            factor = scheduler.lr_lambdas[0](scheduler.last_epoch)
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
                group["lr"] = base * factor
        event = {"step": self.step, "event": f"{error}; resumed from step {self.step} at half the learning rate"}
        if self.world.is_main:
            self.files.log(event)
            tqdm.write(f"warning: {event['event']}")

    @property
    def global_batch_size(self) -> int:
        return self.config.batch_size * self.world.size

    def _after_step(self, bar: tqdm) -> None:
        c, s = self.config, self.step
        log_now = s % c.log_every == 0
        checkpoint_now = s % c.checkpoint_every == 0 and s < c.steps
        main = self.world.is_main
        if main and (s % c.sample_every == 0 or s == c.steps):
            self.write_preview()  # first: the grid's diagnostics ride with this step's row
        if log_now or checkpoint_now:
            self._flush_window(bar if log_now else None)
        if main and self.evaluator is not None and c.eval_every and (s % c.eval_every == 0 or s == c.steps):
            self._evaluate()
        if checkpoint_now:
            self._save()
            if main:
                self.files.plot_losses()

    def _flush_window(self, bar: tqdm | None) -> None:
        """Check the losses since the last flush for NaN/inf; at log steps, write their means.

        The only host-device synchronisation of the loop; under DDP the losses are averaged over the
        processes here, so every process sees the same values and stops at the same step."""
        if not self._window:
            return
        keys = sorted(self._window[0].keys(), key=lambda k: k.startswith("grad_norm"))  # losses first
        table = torch.stack([torch.stack([r[k].float() for r in self._window]) for k in keys], dim=1)
        table = mean_across(table, self.world).cpu()  # (steps, keys)
        stacked = {k: table[:, j] for j, k in enumerate(keys)}
        bad = ~torch.isfinite(table)
        if bad.any():
            i = int(bad.any(dim=1).nonzero()[0])  # the first bad step, then its first bad loss
            j = int(bad[i].nonzero()[0])
            last = self.files.last_step()
            kept = f"{self.checkpoint_path} (step {last}) is intact" if last else "no checkpoint yet"
            step = self._window_first_step + i + 1
            raise Divergence(f"step {step}: {keys[j]} is {table[i, j].item()}; training stopped, {kept}")
        if bar is None and self.step < self.config.steps:
            return  # a check before a checkpoint: the window goes on to the next log step
        if self.world.is_main:
            self._write_metrics(stacked, bar)
        self._window = []
        self._window_first_step = self.step
        self._window_start = time.perf_counter()

    def _write_metrics(self, stacked: dict[str, torch.Tensor], bar: tqdm | None) -> None:
        elapsed = time.perf_counter() - self._window_start
        n_steps = len(self._window)
        row: dict[str, Any] = {"step": self.step, "time": round(time.perf_counter() - self._t0, 3)}
        row.update({k: float(v.mean()) for k, v in stacked.items()})
        row["lr"] = self.opt_g.param_groups[0]["lr"]
        row["images_per_s"] = n_steps * self.global_batch_size / max(elapsed, 1e-9)
        row["step_s"] = elapsed / max(n_steps, 1)
        row["peak_memory_gb"] = peak_memory_gb(self.device)
        row.update(self._sample_figures)
        self._log_row(row)
        if bar is not None:
            shown = {k: f"{row[k]:.3g}" for k in stacked if k.endswith("/total")}
            bar.set_postfix(**shown, img_s=f"{row['images_per_s']:.1f}")

    def _logged_rows(self) -> list[dict[str, Any]]:
        """The rows a resumed run logged before (none when its log is missing or empty)."""
        try:
            return read_rows(self.files.metrics)[0]
        except UserError:
            return []

    def _log_row(self, row: dict[str, Any]) -> None:
        """A row of metrics.jsonl; a failure the diagnostics see start with it is printed once, in words,
        and recorded in the row (``warnings``)."""
        started = [verdict.line() for verdict in self.watch.update(row)]
        for line in started:
            tqdm.write(f"warning: {line}")
        self.files.log({**row, "warnings": started} if started else row)

    @torch.no_grad()
    def write_preview(self) -> None:
        """A sample grid at fixed latents/inputs (EMA generators when on)."""
        generators = self.ema if self.ema is not None else self.generators
        was_training = generators.training
        generators.eval()
        with self.precision.autocast():
            samples = self.objective.preview(generators, self.config.preview_count, self.config.seed)
        generators.train(was_training)
        path = self.files.sample_path(self.step)
        save_preview(samples.float(), path, self.preview_reference, self.objective.preview_columns)
        figures = self.objective.sample_diagnostics(samples.float().cpu(), self._real_batch)
        self._sample_figures = {f"diag/{k}": v for k, v in figures.items()}
        if self.files.logger is not None:
            with Image.open(path) as grid:
                self.files.logger.image("samples", np.asarray(grid.convert("RGB")), self.step)

    def _real_batch(self) -> tuple[torch.Tensor, ...]:
        """The first items of the dataset, stacked once: the real side of the sample diagnostics."""
        if self._real is None:
            items = [self.dataset[i] for i in range(min(self.config.preview_count, len(self.dataset)))]  # type: ignore[arg-type]
            self._real = tuple(torch.stack([torch.as_tensor(t) for t in part]) for part in zip(*items, strict=True))
        return self._real

    @torch.no_grad()
    def _evaluate(self) -> None:
        """Run the evaluator on the (EMA) generators and append its metrics to ``metrics.jsonl``."""
        assert self.evaluator is not None
        generators = self.ema if self.ema is not None else self.generators
        was_training = generators.training
        generators.eval()
        with self.precision.autocast():
            metrics = self.evaluator(generators)
        generators.train(was_training)
        row = {"step": self.step, "time": round(time.perf_counter() - self._t0, 3)}
        row.update({f"eval/{k}": v for k, v in metrics.items()})
        self._log_row(row)
        tqdm.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        key = self.config.best_metric
        if key and key in metrics and metrics[key] > self.best:
            self.best = metrics[key]
            self.files.save_best({**self._state(), "best": {key: self.best}})
            self.export("best")

    def _prepare_run_dir(self, resume: bool) -> None:
        self.files.check(resume)
        barrier(self.world)  # every process has checked before rank 0 writes anything
        if self.world.is_main:
            self.files.create()

    def _write_config(self) -> None:
        params = {name: count_parameters(m) for name, m in {**self.generators, **self.discriminators}.items()}
        self.files.write_config(
            {
                "model": self.model_meta,
                "train": asdict(self.config),
                **self.settings,
                "world_size": self.world.size,
                "global_batch_size": self.global_batch_size,
                "device": str(self.device),
                "params": params,
                "versions": library_versions(),
            },
        )

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "train": asdict(self.config),
            "model": self.model_meta,
            "generators": self.generators.state_dict(),
            "discriminators": self.discriminators.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d else None,
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict() if self.sched_d else None,
            "scaler": self.scaler.state_dict(),
            "objective": self.objective.state_dict() if hasattr(self.objective, "state_dict") else {},
            "rng": rng_state(),
            **self._auxiliaries_state(),
        }

    def _save(self) -> None:
        """``checkpoints/last.pt`` (with every process's RNG state) and the inference weights; with
        ``checkpoint_keep`` K, also ``step_NNNNNNN.pt``, of which the newest K are kept."""
        rank_rng = gather_objects(rng_state(), self.world)
        if not self.world.is_main:
            return
        self.files.save({**self._state(), "rank_rng": rank_rng}, self.step, self.config.checkpoint_keep)
        self.export()

    def export(self, folder: str = "") -> None:
        """``model.safetensors`` + ``model.json``: the generators (EMA when on), ready for inference."""
        generators = self.ema if self.ema is not None else self.generators
        self.files.export(generators.state_dict(), {**self.model_meta, "step": self.step}, folder)

    def _load(self, state: dict[str, Any]) -> None:
        if state.get("model") != self.model_meta:
            raise UserError(
                f"--resume: {self.checkpoint_path} holds {describe(state.get('model'))}, "
                f"but the flags describe {describe(self.model_meta)}"
            )
        self.generators.load_state_dict(state["generators"])
        self.discriminators.load_state_dict(state["discriminators"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        if self.sched_d is not None:
            self.sched_d.load_state_dict(state["sched_d"])
        self.scaler.load_state_dict(state["scaler"])
        aux = {k: state[k] for k in ("auxiliaries", "opt_aux", "sched_aux") if k in state}
        if aux and self.opt_aux is not None:
            self._load_auxiliaries(aux)
        elif aux:
            self._pending_aux = aux
        if hasattr(self.objective, "load_state_dict"):
            self.objective.load_state_dict(state["objective"])  # e.g. CycleGAN's image pools
        self.step = int(state["step"])
        rank_rng = state.get("rank_rng") or [state["rng"]]
        if len(rank_rng) == self.world.size:
            set_rng_state(rank_rng[self.world.rank])
        else:  # resumed on another number of processes: each process continues from its own fresh seed
            set_rng_state(state["rng"])
            torch.manual_seed(self.config.seed + self.world.rank + 1_000_003 * self.step)
        best = self.files.best_value(self.config.best_metric) if self.config.best_metric else None
        if best is not None:
            self.best = best


@contextlib.contextmanager
def deterministic_algorithms(on: bool) -> Iterator[None]:
    """Deterministic kernels while training (cuDNN's autotuner otherwise: fastest convolutions);
    everything it sets, the cuBLAS workspace variable included, is restored afterwards."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    workspace = os.environ.get(CUBLAS_WORKSPACE)
    if on and workspace is None:
        os.environ[CUBLAS_WORKSPACE] = ":4096:8"  # cuBLAS's condition for determinism
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.benchmark = not on
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]
        if workspace is None:
            os.environ.pop(CUBLAS_WORKSPACE, None)


CUBLAS_WORKSPACE = "CUBLAS_WORKSPACE_CONFIG"


def peak_memory_gb(device: torch.device) -> float:
    """The most memory the run has held: on CUDA the allocator's peak, else the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def describe(model_meta: dict[str, Any] | None) -> str:
    if not model_meta:
        return "an unknown model"
    return f"{model_meta.get('model')} {json.dumps(model_meta.get('config'), sort_keys=True)}"


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for name in ("torch", "torchvision", "numpy", "kornia", "albumentations", "gradio", "gansuite"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions
