"""The base GANs, one file per paper: the adversarial games (``gan``: Goodfellow et al.'s and its
least-squares and hinge variants; ``wgan``: weight clipping; ``wgan_gp``: gradient penalty), the
objectives that play them (``gan``: unconditional; ``cgan``: class-conditional), and each paper's
recipe. The networks are in core_gan.models (``mlp``, ``dcgan``)."""
