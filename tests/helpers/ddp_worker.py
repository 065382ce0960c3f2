"""Trains a tiny pix2pix, DCGAN or CUT with the Trainer; run directly (one process) or under torchrun.

    python tests/helpers/ddp_worker.py MODEL RUN_DIR BATCH STEPS [--resume]

Each process saves its own final generator and discriminator parameters to RUN_DIR/rank{R}.pt, so a
test can check that DDP kept every process's copy identical.
"""

from __future__ import annotations

import sys

import torch

from core_gan.distributed import distributed_session
from core_gan.gans.gan import GANGame, GANObjective
from core_gan.models.dcgan import DCGANConfig
from core_gan.trainer import TrainConfig, Trainer
from gansuite.registry import build
from translation.cut import CUTConfig, CUTLoss, CUTObjective
from translation.pix2pix import Pix2PixConfig, Pix2PixLoss, Pix2PixObjective


def objective_and_data(model: str):
    """Same initial weights and data in every process (DDP would broadcast rank 0's weights anyway)."""
    torch.manual_seed(0)
    if model == "pix2pix":
        # instance norm and no dropout: the loss is a per-image mean, so 2 x batch B = 1 x batch 2B exactly
        G, D = build("pix2pix", Pix2PixConfig(netG="unet_32", ngf=4, ndf=4, norm="instance", dropout=False))
        x = torch.rand(8, 3, 32, 32) * 2 - 1
        data = torch.utils.data.TensorDataset(x, x.flip(-1))
        return Pix2PixObjective(G["G"], D["D"], Pix2PixLoss(), (x[:2], x[:2].flip(-1))), data
    if model == "cut":  # with its lazily created PatchNCE head
        G, D = build("cut", CUTConfig(netG="resnet_1blocks", ngf=4, ndf=4))
        x = torch.rand(8, 3, 32, 32) * 2 - 1
        loss = CUTLoss(nce_layers="0,4,8", num_patches=16)
        return CUTObjective(dict(G), dict(D), loss, (x[:2], x[:2].flip(-1))), torch.utils.data.TensorDataset(
            x, x.flip(1)
        )
    G, D = build("dcgan", DCGANConfig(image_size=32, channels=1, ngf=8, ndf=8))
    x = torch.rand(16, 1, 32, 32) * 2 - 1
    data = torch.utils.data.TensorDataset(x, torch.zeros(16, dtype=torch.long))
    return GANObjective(G["G"], D["D"], GANGame("nonsaturating")), data


def main() -> None:
    model, run_dir, batch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with distributed_session("cpu") as world:
        objective, data = objective_and_data(model)
        config = TrainConfig(steps=steps, batch_size=batch, device="cpu", log_every=1, sample_every=steps,
                             checkpoint_every=steps, preview_count=2)  # fmt: skip
        trainer = Trainer(objective, data, run_dir, config, {"model": model})
        trainer.fit(resume="--resume" in sys.argv)
        networks = {**trainer.generators, **trainer.discriminators, **trainer.auxiliaries}
        params = {f"{n}.{k}": p.detach() for n, m in networks.items() for k, p in m.named_parameters()}
        torch.save(params, f"{run_dir}/rank{world.rank}.pt")


if __name__ == "__main__":
    main()
