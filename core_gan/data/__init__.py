"""Data for the base GANs and the translation models: built-in toys, digits, image folders."""
