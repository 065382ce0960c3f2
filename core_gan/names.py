"""Choices the command line offers, in a module that imports nothing heavy: ``gansuite --help`` and
every argparse error read them without loading torch."""

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
EXPORT_FORMATS = ("onnx", "safetensors", "torchscript")
BACKENDS = ("auto", "torch", "onnxruntime")
