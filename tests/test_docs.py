"""The documentation stays true to the code: the generated CLI reference is current, the README is short
and keeps its set-up commands, every relative link resolves, and `gansuite --help` imports no torch."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SETUP_COMMANDS = ("pip install -e . && gansuite demo", 'pip install -e ".[dev]" && pytest')
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def load_generator():
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "docs" / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current():
    generator = load_generator()
    current = generator.CLI_MD.read_text()
    made_with = re.search(r"<!-- Python (\d+\.\d+),", current)
    if made_with and made_with.group(1) != generator.python_version():
        pytest.skip(f"docs/cli.md was made with Python {made_with.group(1)}, whose argparse lays help out "
                    f"differently from this Python {generator.python_version()}")  # fmt: skip
    assert current == generator.render(), "docs/cli.md is stale: run `python docs/make_cli_reference.py`"


def test_readme_is_short_and_keeps_the_setup_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = {line.strip() for block in blocks for line in block.splitlines()}
    for command in SETUP_COMMANDS:
        assert command in lines, f"README.md lost the set-up command {command!r} (CI runs it)"


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings (outside code blocks)."""
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match:
            found.add(re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-"))
    return found


def links(path: Path) -> list[str]:
    """The link targets of a markdown file, outside code blocks and inline code."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return LINK.findall(re.sub(r"`[^`\n]*`", "", text))


@pytest.mark.parametrize("page", [README, ROOT / "benchmarks" / "RESULTS.md", *DOCS], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {', '.join(broken)}"


@pytest.mark.parametrize("argv", [["--help"], ["upscale", "--help"], ["upscale"]], ids=" ".join)
def test_help_and_usage_errors_import_no_torch(argv):
    code = (
        "import sys, atexit; "
        "atexit.register(lambda: print('TORCH' if 'torch' in sys.modules else 'NOTORCH')); "
        f"from gansuite.cli import main; sys.exit(main({argv!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == (2 if argv == ["upscale"] else 0), result.stderr
    assert result.stdout.strip().splitlines()[-1] == "NOTORCH", result.stdout[-500:]
