"""The change a fix stands for, shown on the learner's own file: find the lines the patch
acts on (the activation, initialiser, softmax, noise, learning-rate lines; a scenario's
RunConfig fields), edit them, and return a unified diff. A fix with no line to point at
is said in words instead."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from core.schema.fixes import FIXES, apply_fixes

_INIT_CALL = re.compile(r"tf\.random\.(uniform|normal|truncated_normal)\(\s*(\[[^\]]*\])[^()]*(\([^()]*\)[^()]*)*\)")
_KERAS_INIT = re.compile(r"tf\.keras\.initializers\.(RandomUniform|RandomNormal|TruncatedNormal|Zeros|Constant)\([^()]*\)")
_SATURATING = re.compile(r"tf\.nn\.(sigmoid|tanh)\b|tf\.(sigmoid|tanh)\b|tf\.math\.(sigmoid|tanh)\b")
_KERAS_ACTIVATION = re.compile(r"activation=(['\"])(sigmoid|tanh)\1")
_NOISE = re.compile(r"^(\s*\w+\s*=\s*)(\w+)\s*[+]\s*.*\brandom\.\w+\(.*$")
_LR = re.compile(r"\b(learning_rate|LEARNING_RATE|lr|LR)(\s*=\s*)([0-9][0-9.]*(?:e-?\d+)?)")


@dataclass(frozen=True)
class FixChange:
    diff: str  # unified diff of the learner's file, "" when no line could be found
    words: tuple[str, ...]  # what to change, for fixes with no line to point at


def _strip_call(line: str, call: str) -> str:
    """`call(expr)` in the line replaced by `expr` (parentheses matched)."""
    start = line.find(call)
    if start < 0:
        return line
    depth, i = 0, start + len(call) - 1
    for i in range(start + len(call) - 1, len(line)):
        depth += {"(": 1, ")": -1}.get(line[i], 0)
        if depth == 0:
            break
    return line[:start] + line[start + len(call):i] + line[i + 1:]


def _edit_line(line: str, fix: str, initializer: str) -> str:
    if fix == "activation":
        line = _SATURATING.sub("tf.nn.relu", line)
        return _KERAS_ACTIVATION.sub('activation="relu"', line)
    if fix == "init":
        name = "HeNormal" if initializer == "he" else "GlorotUniform"
        if "Variable" in line and _INIT_CALL.search(line):
            return _INIT_CALL.sub(lambda m: f"tf.keras.initializers.{name}(seed=0)({m[2]})", line)
        return _KERAS_INIT.sub(f"tf.keras.initializers.{name}(seed=0)", line)
    if fix == "logits" and "softmax(" in line and "cross_entropy" not in line:
        code, hash_, _ = _strip_call(line, "tf.nn.softmax(").partition("#")
        return code.rstrip() + ("  # logits: the loss applies softmax itself" if hash_ else "")
    if fix == "no_noise" and "Variable" not in line:
        return _NOISE.sub(lambda m: f"{m[1]}{m[2]}  # no noise", line)
    if fix in ("lr_down", "lr_up"):
        factor = 0.1 if fix == "lr_down" else 10.0
        return _LR.sub(lambda m: f"{m[1]}{m[2]}{float(m[3]) * factor:g}", line, count=1)
    return line


def _unified(before: list[str], after: list[str], filename: str) -> str:
    lines = difflib.unified_diff(before, after, f"a/{filename}", f"b/{filename}", n=1, lineterm="")
    return "\n".join(line.rstrip("\n") for line in lines)


def script_change(source: str, filename: str, fixes: tuple[str, ...], initializer: str, how: dict[str, str]) -> FixChange:
    """The edit of a plain script each fix stands for. `initializer` is the init fix's
    (he / glorot); `how` says in words what each fix does, for those with no line."""
    initializer = "he" if "activation" in fixes else initializer
    before = source.splitlines()
    after, words = list(before), []
    for fix in fixes:
        edited = [_edit_line(line, fix, initializer) for line in after]
        if fix in ("lr_down", "lr_up"):  # one learning rate, the first one named
            first = next((i for i, (a, b) in enumerate(zip(after, edited)) if a != b), None)
            edited = [b if i == first else a for i, (a, b) in enumerate(zip(after, edited))]
        if edited == after:
            words.append(f"{fix} ({FIXES[fix].label}): {how.get(fix, FIXES[fix].reason)}")
        after = edited
    return FixChange(_unified(before, after, filename) if after != before else "", tuple(words))


def _literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def scenario_change(source: str, filename: str, config, fixes: tuple[str, ...]) -> FixChange:
    """A scenario file's RunConfig(...) with the fields the fixes change."""
    fixed = apply_fixes(config, fixes)
    changed = {name: getattr(fixed, name) for name in config.__dataclass_fields__
               if getattr(fixed, name) != getattr(config, name)}
    before = source.splitlines()
    after = list(before)
    for name, value in changed.items():
        field = re.compile(rf"\b{name}=(\"[^\"]*\"|'[^']*'|[^,()\s]+)")
        index = next((i for i, line in enumerate(after) if field.search(line)), None)
        if index is not None:
            after[index] = field.sub(lambda m: f"{name}={_literal(value)}", after[index], count=1)
            continue
        index = next((i for i, line in enumerate(after) if "RunConfig(" in line), None)
        if index is not None:
            after[index] = after[index].replace("RunConfig(", f"RunConfig({name}={_literal(value)}, ", 1)
    words = () if changed else tuple(f"{fix}: {FIXES[fix].reason}" for fix in fixes)
    return FixChange(_unified(before, after, filename) if after != before else "", words)
