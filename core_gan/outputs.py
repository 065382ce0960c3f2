"""What a command may write: never over a file it did not create in this invocation.

Every check runs before the first byte is written, and its error names the path and what to do:
an output that would land on one of the command's inputs is always refused; an existing output is
refused unless the user passed ``--overwrite``; a folder argument that is a file is refused. A run
directory replaced with ``--overwrite`` is replaced whole (:func:`replace_folder`), never half.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from core_gan.errors import UserError


def files_in(folder: Path) -> list[Path]:
    """The files directly in ``folder`` (none when it is not a folder): a run's own files, as inputs."""
    return [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []


def check_folder(folder: Path, flag: str = "--out") -> None:
    """``folder`` is a folder or does not exist yet."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: is a file; {flag} takes a folder (a new one, or one of earlier results)")


def check_outputs(outputs: Iterable[Path], inputs: Iterable[Path] = (), overwrite: bool = False,
                  flag: str = "--out") -> None:  # fmt: skip
    """Refuse an output that is one of ``inputs`` (always) or that exists (unless ``overwrite``)."""
    sources = {Path(p).resolve() for p in inputs}
    for path in outputs:
        if path.resolve() in sources:
            raise UserError(f"{flag} {path.parent}: the output {path.name} would replace the input {path}; "
                            f"choose another {flag}")  # fmt: skip
        if path.exists() and not overwrite:
            what = "a folder" if path.is_dir() else "a file"
            raise UserError(f"{path}: {what} already there; choose another {flag} or pass --overwrite to replace it")


def check_new_folder(folder: Path, overwrite: bool, flag: str = "--out", inputs: Iterable[Path] = ()) -> None:
    """A folder a command fills as a whole (a run): it must be absent or empty, unless ``overwrite``, and
    then it must be a run (it holds a ``model.json``) and hold none of the command's ``inputs``."""
    check_folder(folder, flag)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise UserError(f"{flag} {folder}: holds files already (a run?); choose another {flag} or pass --overwrite "
                        "to replace the whole folder")  # fmt: skip
    if not (folder / "model.json").is_file():
        raise UserError(f"{flag} {folder}: --overwrite replaces runs only, and this folder holds no model.json; "
                        f"choose another {flag}")  # fmt: skip
    inside = next((p for p in inputs if Path(p).resolve().is_relative_to(folder.resolve())), None)
    if inside is not None:
        raise UserError(f"{flag} {folder}: holds the input {inside}, which replacing the folder would delete")


def replace_folder(folder: Path, build: Callable[[Path], object]) -> Path:
    """``build(tmp)`` fills a new folder beside ``folder``, which then takes its place whole: a failure
    leaves the old folder as it was."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".new", dir=folder.parent))
    try:
        build(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
        old.rmdir()
        folder.rename(old)
    tmp.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return folder
