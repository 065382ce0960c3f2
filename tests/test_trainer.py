"""The trainer: run-directory files, exact resume, atomic checkpoints, the NaN guard."""

import json
from dataclasses import replace

import pytest
import torch
from torch.utils.data import TensorDataset

from core_gan import checkpoint as ckpt
from core_gan.data.toy import toy_dataset
from core_gan.gans.cgan import ConditionalGANObjective
from core_gan.gans.gan import GANGame, GANObjective, UnrollConfig
from core_gan.gans.wgan import WGANConfig, WGANGame
from core_gan.gans.wgan_gp import WGANGPConfig, WGANGPGame
from core_gan.models.dcgan import DCGANConfig
from core_gan.trainer import Divergence, TrainConfig, Trainer
from gansuite.registry import build

CONFIG = TrainConfig(
    steps=6, batch_size=8, device="cpu", log_every=2, sample_every=3, checkpoint_every=3, preview_count=4, ema=0.9
)
NET = DCGANConfig(image_size=32, channels=1, latent_dim=8, ngf=4, ndf=4, num_classes=2, conditional_bn=True)


def images():
    gen = torch.Generator().manual_seed(1)
    return TensorDataset(torch.rand(40, 1, 32, 32, generator=gen) * 2 - 1, torch.arange(40) % 2)


def make_trainer(run_dir, config=CONFIG, game=None, data=None):
    torch.manual_seed(0)
    G, D = build("cgan", NET)
    objective = ConditionalGANObjective(G["G"], D["D"], game or GANGame("hinge"))
    meta = {"model": "cgan", "config": {"latent_dim": 8}}
    return Trainer(objective, data or images(), run_dir, config, model_meta=meta)


def weights(trainer):
    state = {**trainer.generators.state_dict(), **trainer.discriminators.state_dict()}
    state.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
    return state


def assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_directory_layout(tmp_path):
    trainer = make_trainer(tmp_path / "run")
    trainer.fit()
    run = tmp_path / "run"
    for name in (
        "config.json",
        "checkpoints/last.pt",
        "model.safetensors",
        "model.json",
        "metrics.jsonl",
        "losses.png",
    ):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 1 and set(config["params"]) == {"G", "D"}
    assert config["params"]["G"] == sum(p.numel() for p in trainer.generators.parameters())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert {"step", "time", "lr", "images_per_s", "D/total", "G/total", "grad_norm/D", "grad_norm/G"} <= rows[0].keys()


def test_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()

    interrupted = make_trainer(tmp_path / "part")
    original = interrupted.train_step
    calls = {"n": 0}

    def crash_after_four(stream):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(stream)

    interrupted.train_step = crash_after_four
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit()
    assert ckpt.load_checkpoint(tmp_path / "part/checkpoints/last.pt")["step"] == 3

    resumed = make_trainer(tmp_path / "part")
    resumed.fit(resume=True)
    assert resumed.step == 6
    assert_bitwise_equal(weights(full), weights(resumed))
    state_full = ckpt.load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    state_resumed = ckpt.load_checkpoint(tmp_path / "part/checkpoints/last.pt")
    assert state_full["sched_g"] == state_resumed["sched_g"]
    assert torch.equal(state_full["rng"]["torch"], state_resumed["rng"]["torch"])


def test_resume_with_a_longer_total_continues(tmp_path):
    short = make_trainer(tmp_path / "run", replace(CONFIG, steps=3))
    short.fit()
    longer = make_trainer(tmp_path / "run", replace(CONFIG, steps=6))
    longer.fit(resume=True)
    full = make_trainer(tmp_path / "full")
    full.fit()
    assert_bitwise_equal(weights(full), weights(longer))


def test_resume_refuses_a_different_model_and_fresh_runs_refuse_to_overwrite(tmp_path):
    make_trainer(tmp_path / "run", replace(CONFIG, steps=3)).fit()
    with pytest.raises(Exception, match="already holds a run"):
        make_trainer(tmp_path / "run").fit()
    other = make_trainer(tmp_path / "run")
    other.model_meta = {"model": "cgan", "config": {"latent_dim": 16}}
    with pytest.raises(Exception, match="--resume"):
        other.fit(resume=True)
    with pytest.raises(Exception, match="nothing to resume"):
        make_trainer(tmp_path / "empty").fit(resume=True)


def test_interrupted_checkpoint_write_leaves_the_previous_one_loadable(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path / "run", replace(CONFIG, steps=3))
    trainer.fit()
    path = tmp_path / "run/checkpoints/last.pt"
    before = ckpt.load_checkpoint(path)

    def torn_write(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", torn_write)
    with pytest.raises(Exception, match="write failed"):
        ckpt.save_checkpoint(path, {"step": 99})
    after = ckpt.load_checkpoint(path)
    assert after["step"] == before["step"] == 3
    assert not [p for p in path.parent.iterdir() if p.name != "last.pt"], "temporary file left behind"


def test_nan_guard_names_step_and_loss_and_keeps_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path / "run", replace(CONFIG, steps=10))
    original = trainer.objective.g_loss

    def poisoned(batch):
        losses = original(batch)
        if trainer.step + 1 == 5:
            losses["total"] = losses["total"] * float("nan")
        return losses

    trainer.objective.g_loss = poisoned
    with pytest.raises(Divergence, match=r"step 5: G/total is nan.*step 3\) is intact"):
        trainer.fit()
    state = ckpt.load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["generators"].values() if v.is_floating_point())


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge"])
def test_every_loss_trains_the_mlp_gan(tmp_path, loss):
    from core_gan.models.mlp import MLPGANConfig

    G, D = build("gan", MLPGANConfig(latent_dim=4, hidden=16, layers=2))
    games = {"wgan": WGANGame(WGANConfig()), "wgan-gp": WGANGPGame(WGANGPConfig())}
    game = games.get(loss) or GANGame(loss, r1=1.0)
    objective = GANObjective(G["G"], D["D"], game, UnrollConfig(unroll=2))
    config = TrainConfig(
        steps=4,
        batch_size=32,
        device="cpu",
        d_steps=2,
        log_every=2,
        sample_every=4,
        checkpoint_every=4,
        optimizer="rmsprop" if loss == "wgan" else "adam",
    )
    trainer = Trainer(objective, toy_dataset("ring8", n=256), tmp_path / loss, config, {"model": "gan"})
    trainer.fit()
    row = json.loads((tmp_path / loss / "metrics.jsonl").read_text().splitlines()[-1])
    assert ("D/r1" in row) == (loss not in games) and (("D/gp" in row) == (loss == "wgan-gp"))
    if loss == "wgan":
        assert max(p.abs().max().item() for p in D.parameters()) <= 0.01 + 1e-7


def test_unrolled_g_step_differs_from_plain_and_leaves_d_untouched():
    from core_gan.models.mlp import MLPGANConfig

    torch.manual_seed(0)
    G, D = build("gan", MLPGANConfig(latent_dim=4, hidden=16, layers=2))
    before = {k: v.clone() for k, v in D.state_dict().items()}
    batch = (torch.randn(16, 2), torch.zeros(16, dtype=torch.long))
    grads = {}
    for k in (0, 3):
        objective = GANObjective(G["G"], D["D"], GANGame("minimax"), UnrollConfig(unroll=k, unroll_lr=0.5))
        G.zero_grad()
        torch.manual_seed(1)
        objective.g_loss(batch)["total"].backward()
        grads[k] = torch.cat([p.grad.flatten() for p in G.parameters()])
    assert not torch.allclose(grads[0], grads[3])
    assert_bitwise_equal(before, D.state_dict())


@pytest.mark.parametrize("precision, channels_last", [("bf16", True), ("fp32", True)])
def test_bf16_autocast_and_channels_last_train(tmp_path, precision, channels_last):
    config = replace(CONFIG, steps=2, precision=precision, channels_last=channels_last, sample_every=2)
    trainer = make_trainer(tmp_path / "run", config)
    trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.generators.parameters())
    assert (tmp_path / "run/samples/step_0000002.png").is_file()


def test_a_run_writes_tensorboard_events_mirroring_metrics_jsonl(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from core_gan.loggers import tag

    trainer = make_trainer(
        tmp_path / "run", replace(CONFIG, steps=4, log_every=2, sample_every=4, logger="tensorboard")
    )
    trainer.fit()
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [k for k in rows[0] if "/" in k and not k.startswith(("grad_norm", "eval", "diag/"))]
    assert losses and all(tag(k).startswith("loss/") for k in losses)
    diagnostics = [k for k in rows[0] if k.startswith("diag/")]
    assert {"diag/r_t", "diag/D_real", "diag/D_fake"} <= set(diagnostics)
    assert all(tag(k).startswith("diag/") for k in diagnostics)
    for key in (*losses, *diagnostics, "lr", "images_per_s", "step_s"):
        logged = [(e.step, e.value) for e in events.Scalars(tag(key))]
        assert logged == [(r["step"], pytest.approx(r[key])) for r in rows if key in r], key
    assert {"time/images_per_s", "time/peak_memory_gb", "lr/G"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Images("samples")] == [4]
    assert tag("eval/psnr") == "metric/psnr" and tag("grad_norm/G") == "diag/grad_norm/G"
