"""Running ``openapi-python-client`` (PyPI, pinned in the Makefile) on our OpenAPI document.

The generator lives in its own virtual environment, ``.venv-codegen``: its pins (typer
< 0.28) conflict with the service's, and it is a build tool, not a dependency. It runs
offline, with no post-generation hooks (they would need ruff on PATH).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATOR_VERSION = "0.29.1"
PACKAGE = "vstage_client"


def generator_command() -> str:
    """``VSTAGE_OPENAPI_GENERATOR``, else ``.venv-codegen``, else whatever is on PATH."""
    candidates = [
        os.environ.get("VSTAGE_OPENAPI_GENERATOR"),
        str(REPO / ".venv-codegen" / "bin" / "openapi-python-client"),
        shutil.which("openapi-python-client"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        "openapi-python-client is not installed: run `make setup` (it creates .venv-codegen "
        f"with openapi-python-client=={GENERATOR_VERSION})"
    )


def generate(spec: Path, out: Path) -> Path:
    """Generate the client package from ``spec`` into ``out``; its parent folder."""
    config = out.parent / "generator.yaml"
    config.write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            generator_command(),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(out),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / PACKAGE / "__init__.py").is_file(), result.stdout
    return out


@contextmanager
def imported(folder: Path) -> Iterator[ModuleType]:
    """Import the generated package from ``folder``; forget it afterwards."""
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    """A module of the generated package, e.g. ``api.projects.create_project_v1_projects_post``."""
    return importlib.import_module(f"{PACKAGE}.{name}")
