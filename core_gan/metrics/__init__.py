"""Metrics: FID, KID, IS (generation) and PSNR, SSIM (super-resolution), with their protocols."""
