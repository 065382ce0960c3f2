"""gansuite: the command line and the glue between core_gan, translation and apps."""

__version__ = "0.1.0"
