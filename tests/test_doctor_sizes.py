"""Small units in the doctor: no module of core/doctor over 400 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

DOCTOR = Path(__file__).resolve().parent.parent / "core" / "doctor"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_no_doctor_module_over_400_lines_and_no_function_over_60():
    too_long = []
    for path in sorted(DOCTOR.glob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, too_long
