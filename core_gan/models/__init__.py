"""The base GAN families: the MLP GAN (Goodfellow et al. 2014) and (conditional) DCGAN."""
