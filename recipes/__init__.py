"""The recipes of the bundled models (`python -m recipes.bundled`): a tool of the source tree, like
benchmarks/, above the installed packages; not installed."""
