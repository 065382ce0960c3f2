"""Image-to-image translation models (pix2pix, CycleGAN, SRGAN) on core_gan."""
