"""The failure detectors (core_gan.diagnosis) on synthetic logs that show each failure and logs that do
not; the objectives' figures they read; the trainer's warnings; `gansuite diagnose`."""

from __future__ import annotations

import json
import math

import pytest
import torch

from core_gan.diagnosis import Watch, d_overpowering, divergence, identity_collapse, mode_collapse
from core_gan.losses import critic_scores
from core_gan.metrics.diversity import diversity, translation_diversity
from gansuite.cli import main


def rows(n=20, **columns):
    """n log rows at steps 100, 200, ...; each column a function of the row index."""
    return [{"step": 100 * (i + 1), **{k.replace("__", "/"): f(i) for k, f in columns.items()}} for i in range(n)]


def test_a_discriminator_that_wins_outright_is_failing_and_a_balanced_one_healthy():
    won = rows(D__total=lambda i: 0.5 if i < 5 else 0.01, diag__r_t=lambda i: 0.2 if i < 5 else 1.0,
               G__adv=lambda i: 1 + i)  # fmt: skip
    verdict = d_overpowering(won)
    assert verdict.status == "failing" and verdict.steps == (600, 2000)
    assert "r_t" in verdict.evidence and "G's adversarial loss" in verdict.evidence and "DiffAugment" in verdict.advice
    balanced = rows(D__total=lambda i: 0.5, diag__r_t=lambda i: 0.3, G__adv=lambda i: 1.0)
    assert d_overpowering(balanced).status == "healthy"
    recovered = rows(D__total=lambda i: 0.01 if 5 <= i < 12 else 0.5, diag__r_t=lambda i: 1.0 if 5 <= i < 12 else 0.3)
    assert d_overpowering(recovered).status == "warning", "a past stretch is a warning, not a failure"
    assert d_overpowering(rows(G__total=lambda i: 1.0)).status == "not measured"


def test_mode_collapse_from_the_diversity_of_samples_and_of_each_class():
    collapsed = rows(diag__diversity=lambda i: 0.9 - 0.04 * i, diag__diversity_min=lambda i: 0.8 - 0.04 * i)
    verdict = mode_collapse(collapsed)
    assert verdict.status == "failing" and verdict.steps is not None and "diversity 0.14" in verdict.evidence
    one_class = rows(diag__diversity=lambda i: 0.8, diag__diversity_min=lambda i: 0.4)
    assert mode_collapse(one_class).status == "warning"
    healthy = rows(diag__diversity=lambda i: 0.95, diag__diversity_min=lambda i: 0.7)
    assert mode_collapse(healthy).status == "healthy"
    assert mode_collapse(rows(diag__msgan=lambda i: 0.05)).status == "failing"
    assert mode_collapse(rows(diag__msgan=lambda i: 0.9)).status == "healthy"


def test_identity_collapse_needs_g_to_return_its_input_while_d_still_tells_them_apart():
    identity = rows(diag__change=lambda i: 0.01, diag__data_change=lambda i: 0.5, diag__r_t=lambda i: 0.95)
    assert identity_collapse(identity).status == "failing"
    fooled = rows(diag__change=lambda i: 0.01, diag__data_change=lambda i: 0.5, diag__r_t=lambda i: 0.0)
    assert identity_collapse(fooled).status == "healthy", "near-identical domains: returning x is right"
    moving = rows(diag__change=lambda i: 0.3, diag__data_change=lambda i: 0.5, diag__r_t=lambda i: 0.95)
    assert identity_collapse(moving).status == "healthy"
    cyclegan = rows(diag__change_AB=lambda i: 0.3, diag__data_change_AB=lambda i: 0.5, diag__change_BA=lambda i: 0.001,
                    diag__data_change_BA=lambda i: 0.5, diag__r_t_A=lambda i: 0.99)  # fmt: skip
    assert identity_collapse(cyclegan).status == "failing", "either direction"


def test_divergence_from_non_finite_events_and_gradient_jumps():
    log = rows(grad_norm__G=lambda i: 1.0)
    assert divergence(log).status == "healthy"
    stopped = [*log, {"step": 2100, "event": "step 2100: G/total is nan; training stopped, no checkpoint yet"}]
    assert divergence(stopped).status == "failing"
    retried = [*log, {"step": 2100, "event": "step 2100: G/total is inf; resumed from step 2000 at half the lr"}]
    assert divergence(retried).status == "warning"
    jump = rows(grad_norm__D=lambda i: 1e4 if i == 10 else 1.0)
    verdict = divergence(jump)
    assert verdict.status == "warning" and verdict.steps == (1100, 1100) and "grad_norm/D" in verdict.evidence


def test_the_watch_reports_a_failure_once_when_it_starts_and_again_after_it_recovered():
    watch = Watch()
    said = []
    for i in range(30):
        collapsed = 10 <= i < 20
        row = {"step": i, "diag/diversity": 0.1 if collapsed else 0.9, "diag/diversity_min": 0.1 if collapsed else 0.9}
        said.append([v.failure for v in watch.update(row)])
    assert [i for i, s in enumerate(said) if s] == [10]
    again = [watch.update({"step": i, "diag/diversity": 0.1, "diag/diversity_min": 0.1}) for i in range(30, 35)]
    assert [bool(new) for new in again] == [True, False, False, False, False], "a second collapse is said again"


def test_critic_scores_and_r_t_against_the_decision_threshold():
    real, fake = torch.tensor([0.9, 0.8, 0.1, 0.7]), torch.tensor([0.2, 0.0])
    lsgan = critic_scores("lsgan", real, fake)
    assert lsgan["r_t"].item() == pytest.approx(0.5) and lsgan["D_real"].item() == pytest.approx(0.625)
    assert critic_scores("nonsaturating", real - 0.5, fake)["r_t"].item() == pytest.approx(0.5)
    assert critic_scores("hinge", real, fake)["r_t"].item() == pytest.approx(1.0)


def test_diversity_is_one_for_the_data_itself_and_zero_for_a_repeated_sample():
    torch.manual_seed(0)
    x, y = torch.rand(40, 1, 16, 16), torch.arange(40) % 4
    assert diversity(x, x)["diversity"] == pytest.approx(1.0)
    same = diversity(x, x, y, y)
    assert same["diversity"] == pytest.approx(1.0) and same["diversity_min"] == pytest.approx(1.0)
    repeated = x[y == 0][:1].repeat(40, 1, 1, 1)
    assert diversity(repeated, x, y, y)["diversity"] == pytest.approx(0.0, abs=1e-6)
    assert translation_diversity(x, torch.zeros_like(x))["msgan"] == pytest.approx(0.0)
    assert translation_diversity(x, 2 * x)["msgan"] == pytest.approx(2.0, rel=1e-5)


def _toy_run(tmp_path, name, *extra):
    out = tmp_path / name
    args = ["train", "gan", "--data", "ring8", "--steps", "40", "--batch-size", "64", "--log-every", "10",
            "--sample-every", "10", "--checkpoint-every", "40", "--logger", "none", "--out", str(out),
            *extra]  # fmt: skip
    assert main(args) == 0
    return out


def test_a_run_logs_the_diagnostics_and_diagnose_writes_a_verdict_per_failure_and_a_dashboard(tmp_path, capsys):
    out = _toy_run(tmp_path, "run")
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all({"diag/r_t", "diag/D_real", "diag/D_fake"} <= r.keys() for r in logged)
    assert all(0 <= r["diag/diversity"] < 5 for r in logged), "the sample grids' diversity rides with the rows"
    capsys.readouterr()
    assert main(["diagnose", str(out), "--json"]) == 0
    printed = capsys.readouterr().out.splitlines()
    verdicts = json.loads(printed[-1])
    failures = ["D overpowering G", "mode collapse", "identity collapse", "divergence", "mode collapse (measured)"]
    assert [v["failure"] for v in verdicts] == failures
    assert verdicts[2]["status"] == "not measured" and verdicts[-1]["failure"] == "mode collapse (measured)"
    assert (out / "diagnosis.png").is_file() and (out / "diagnosis.png").stat().st_size > 10_000


def test_a_discriminator_with_a_hundred_times_the_learning_rate_is_reported_while_training(tmp_path, capsys):
    out = _toy_run(tmp_path, "strong", "--lr-d", "0.1", "--steps", "80")
    printed = capsys.readouterr().out
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    warned = [w for r in logged for w in r.get("warnings", [])]
    assert any(w.startswith("D overpowering G") for w in warned) and all(f"warning: {w}" in printed for w in warned)
    assert all(r["step"] >= 8 for r in logged if "warnings" in r), "nothing is said in the first tenth of the run"
    assert len(set(w.split(":")[0] for w in warned)) == len(warned), "each failure is said once"


def test_diagnose_refuses_a_run_without_a_log_in_one_line_and_reads_a_truncated_one(tmp_path, capsys):
    out = _toy_run(tmp_path, "run")
    text = (out / "metrics.jsonl").read_text()
    (out / "metrics.jsonl").write_text(text + '{"step": 50, "D/tot')
    capsys.readouterr()
    assert main(["diagnose", str(out), "--overwrite"]) == 0
    assert "last line is cut off" in capsys.readouterr().err
    (out / "metrics.jsonl").write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    assert main(["diagnose", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "line 2 is not JSON" in err
    translator = tmp_path / "translator"
    translator.mkdir()
    (translator / "model.json").write_text(json.dumps({"model": "pix2pix", "config": {}}))
    assert main(["diagnose", str(translator)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "metrics.jsonl: missing" in err


def test_diagnose_judges_a_bundled_generative_model_on_samples_drawn_now(tmp_path, capsys):
    assert main(["diagnose", "digits-dcgan", "--out", str(tmp_path / "d.png"), "--json"]) == 0
    verdicts = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [v["failure"] for v in verdicts] == ["mode collapse (measured)"]
    assert not math.isnan(float(verdicts[0]["evidence"].split("diversity ")[1].split(" ")[0]))
    assert (tmp_path / "d.png").is_file()
