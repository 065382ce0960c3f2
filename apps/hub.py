"""The hub: every app as a tab of one Gradio Blocks (or one app alone), with a bounded queue."""

from __future__ import annotations

import functools
import importlib
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

import gradio as gr

from apps.common import RESULTS, AppModels
from apps.tabs import TABS
from core_gan.checkpoint import first_line
from core_gan.errors import UserError, one_line

APPS: dict[str, tuple[str, Callable[..., None], str]] = {
    name: (title, importlib.import_module(f"apps.{module}").build, models)
    for name, (title, module, models) in TABS.items()
}
"""name -> (tab title, builder, which models it needs): apps.tabs with the builders."""
QUEUE_SIZE = 32  # waiting requests beyond this are answered "queue is full" at once, not held
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CACHE_PURGE = (600, 3600)  # every 10 minutes, Gradio deletes the uploads and results older than an hour


def guard(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input (UserError) becomes a gr.Error toast with its one-line message, and one line on the
    console (not Gradio's traceback); the server goes on. Image results reach Gradio as PNG files
    (see :class:`apps.common.ResultFiles`)."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return RESULTS.replace_arrays(handler(*args, **kwargs))
        except UserError as e:
            message = one_line(str(e))
            print(f"refused: {message}", file=sys.stderr)
            raise gr.Error(message, print_exception=False) from None

    return wrapper


def build_hub(models: AppModels, apps: tuple[str, ...] = tuple(APPS)) -> gr.Blocks:
    """Tabs for ``apps`` that have models (an app asked for alone must have some)."""
    available = [name for name in apps if getattr(models, APPS[name][2])]
    if not available:
        raise UserError(f"no model for {', '.join(apps)}: pass --checkpoint RUN (or use `gansuite demo`)")
    with gr.Blocks(title="gansuite", delete_cache=CACHE_PURGE) as demo:
        gr.Markdown("# gansuite\nGANs and image-to-image translation on PyTorch.")
        if len(available) == 1:
            APPS[available[0]][1](models, guard)
        else:
            with gr.Tabs():
                for name in available:
                    with gr.Tab(APPS[name][0]):
                        APPS[name][1](models, guard)
    return demo


def concurrency(device: str) -> int:
    """Requests per event computed at once: 1 on a CPU (one call already uses every core), 2 on a GPU."""
    return 2 if device.startswith("cuda") else 1


def launch(
    demo: gr.Blocks, host: str, port: int, device: str, block: bool = True, queue_size: int = QUEUE_SIZE
) -> tuple[Any, str]:
    """Serve ``demo``; returns (FastAPI app, URL). ``block`` waits until the server is stopped."""
    if host not in LOOPBACK:
        warning = f"--host {host}: the apps are open to other machines, with no login; 127.0.0.1 keeps them local"
        warnings.warn(warning, stacklevel=2)
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency(device))
    if block:  # a stop (docker stop, systemd, kill) closes the server as Ctrl-C does, and the exit cleanup runs
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        app, url, _ = demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block)
    except OSError as e:
        raise UserError(f"--host {host} --port {port}: cannot serve there ({first_line(e)})") from e
    return app, url
