"""The apps by name, in a module that imports nothing (the command line offers them without loading
Gradio): name -> (tab title, the module of apps whose ``build`` makes the tab, the models it serves)."""

TABS: dict[str, tuple[str, str, str]] = {
    "edges2photo": ("Edges to photo", "edges2photo", "translators"),
    "cyclegan": ("Unpaired translation", "unpaired", "unpaired"),
    "sr": ("Super-resolution", "sr", "upscalers"),
    "gan": ("GAN sampling", "gan", "gans"),
}
