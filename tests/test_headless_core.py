"""core/ is the headless library: importing any of it must never load textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import core


def test_no_core_module_imports_textual():
    modules = [f"core.{m.name}" for m in pkgutil.walk_packages(core.__path__, prefix="") if not m.name.startswith("_")]
    assert "core.train" in modules and "core.config" in modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "[]"
