"""core/ is the headless library: importing any of it must never load textual, and its
layers import only downward (the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parent.parent


def test_no_core_module_imports_textual():
    modules = [m.name for m in pkgutil.walk_packages(core.__path__, prefix="core.") if not m.name.split(".")[-1].startswith("_")]
    assert "core.train.loop" in modules and "core.schema.config" in modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_import_contracts_are_kept():
    """Layers, two producers that share only core/schema, headless core, a doctor that never
    trains: lint-imports reads them from pyproject.toml."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    out = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "Contracts: 4 kept, 0 broken." in out.stdout
