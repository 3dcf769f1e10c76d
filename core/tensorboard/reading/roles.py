"""Roles as the reader and the command line see them: which History keys are roles, the
`--tag ROLE=TAG` override, and the Reading (core/schema/reading.py) in a few printable lines."""

from __future__ import annotations

from core.schema.reading import BY_CONTENT, BY_NAME, BY_USER, BY_WORDS, TEST, Reading, Role
from core.schema.tags import (
    ACCURACY,
    ACTIVATIONS,
    BIAS,
    GRADIENTS,
    INPUT_STATS,
    LAYERED,
    LOGITS,
    LOSS,
    NONFINITE_COUNT,
    WEIGHTS,
)
from core.tensorboard.layers import layer_of
from core.tensorboard.reading.names import printable
from core.tensorboard.vocabulary import LEARNING_RATE

ROLE_ALIASES = {"test_loss": TEST + LOSS, "test_accuracy": TEST + ACCURACY, "val_loss": TEST + LOSS,
                "val_accuracy": TEST + ACCURACY, "lr": LEARNING_RATE}
_FAMILIES = {LOSS, ACCURACY, LEARNING_RATE, *LAYERED, ACTIVATIONS, WEIGHTS, GRADIENTS, LOGITS,
             NONFINITE_COUNT.split("/")[0], INPUT_STATS[0].split("/")[0]}


def reading_lines(reading: Reading, limit: int = 8) -> list[str]:
    """The reading in a few lines: the whole-run roles, then each per-layer family by its
    kernels (input side first), then how many tags kept their names and what was not placed."""
    renamed = [r for r in reading.roles if r.role != r.tag]
    whole = [r for r in renamed if layer_of(r.role.removeprefix(TEST)) is None]
    lines = []
    if whole:
        lines.append("read as: " + "; ".join(_shown(r) for r in whole[:limit]) + _more(len(whole) - limit))
    families: dict[str, list[Role]] = {}
    for r in renamed:
        found = layer_of(r.role.removeprefix(TEST))
        if found is not None:
            families.setdefault(found[0], []).append(r)
    for family, members in families.items():
        kernels = [r for r in members if not r.role.endswith(f"/{BIAS}")]
        shown = ", ".join(f"{layer_of(r.role)[1]} <- {printable(r.tag, 60)}" for r in kernels[:limit])
        biases = len(members) - len(kernels)
        lines.append(f"{family}: {shown}{_more(len(kernels) - limit)}" + (f" (+ {biases} biases)" if biases else ""))
    same = len(reading.roles) - len(renamed)
    if same:
        lines.append(f"{same} tags read under their own name" if renamed else f"all {same} tags read under their own name")
    if reading.unplaced:
        names = ", ".join(printable(tag, 60) for tag in reading.unplaced[:limit])
        lines.append(f"not placed: {names}{_more(len(reading.unplaced) - limit)}")
    return lines


def _shown(role: Role) -> str:
    how = "" if role.how in (BY_NAME, BY_WORDS) else f" (by {role.how})"
    return f"{role.role} <- {printable(role.tag, 80)}{how}"


def _more(count: int) -> str:
    return f" and {count} more (--json lists all)" if count > 0 else ""


def role_name(section_is_val: bool, key: str) -> str:
    return TEST + key if section_is_val else key


def is_role(key: str) -> bool:
    """True for a History key that is one of tblab's roles (a family tblab reads), not a raw tag."""
    return key.split("/", 1)[0] in _FAMILIES


def move_role(roles: list[Role], old: str, new: str, how: str) -> None:
    """The role filled as `old` is now `new`, read `how` (a user's --tag stays the user's)."""
    for index, role in enumerate(roles):
        if role.role == old:
            roles[index] = Role(new, role.tag, how if role.how != BY_USER else BY_USER)


def parse_override(text: str) -> tuple[str, str]:
    """`ROLE=TAG` -> (role, tag), aliases resolved (`test_accuracy` is `test/accuracy`); ValueError if malformed."""
    role, sep, tag = text.partition("=")
    role, tag = role.strip(), tag.strip()
    if not sep or not role or not tag:
        raise ValueError(f"--tag {text!r}: give ROLE=TAG, e.g. --tag loss=metrics/xent or --tag test_accuracy=eval/acc")
    role = ROLE_ALIASES.get(role.lower(), role)
    if not is_role(role.removeprefix(TEST)):
        raise ValueError(f"--tag {text!r}: {role!r} is not a role tblab reads (loss, accuracy, test_accuracy, "
                         "grad_norm/<layer>/kernel, weights/<layer>/kernel, activations/<layer> ...)")
    return role, tag


__all__ = ["BY_CONTENT", "BY_NAME", "BY_USER", "BY_WORDS", "ROLE_ALIASES", "TEST", "Reading", "Role", "is_role",
           "move_role", "parse_override", "reading_lines", "role_name"]
