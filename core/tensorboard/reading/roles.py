"""The Reading: how a log was read, as part of every answer. Each role tblab fills (the loss,
the accuracy, the test accuracy, each variable's gradient norm, weights, activations, the
inputs) names the tag it came from and how it was recognised (by its words, by its content,
or by the user's `--tag ROLE=TAG`), and the tags that could not be placed are listed.

Roles are tblab's own names (core/schema/tags.py), `test/<name>` for the test-set half; a
layer keeps the log's own name (`grad_norm/w0/kernel` for `gradients/w0:0`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.schema.tags import (
    ACCURACY,
    BIAS,
    ACTIVATIONS,
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

META_KEY = "reading"  # History.meta key of the Reading (JSON)
TEST = "test/"  # role prefix of the test-set half's values
BY_NAME, BY_WORDS, BY_CONTENT, BY_USER = "name", "words", "content", "--tag"
ROLE_ALIASES = {"test_loss": TEST + LOSS, "test_accuracy": TEST + ACCURACY, "val_loss": TEST + LOSS,
                "val_accuracy": TEST + ACCURACY, "lr": "learning_rate"}
_FAMILIES = {LOSS, ACCURACY, "learning_rate", *LAYERED, ACTIVATIONS, WEIGHTS, GRADIENTS, LOGITS,
             NONFINITE_COUNT.split("/")[0], INPUT_STATS[0].split("/")[0]}


@dataclass(frozen=True)
class Role:
    """One role filled: tblab's name for it, the log's tag, and how the tag was recognised."""

    role: str
    tag: str
    how: str = BY_NAME


@dataclass(frozen=True)
class Reading:
    """Which tag of a log fills which role, and which tags were not placed."""

    roles: tuple[Role, ...] = ()
    unplaced: tuple[str, ...] = ()

    def tag_of(self, role: str) -> str | None:
        return next((r.tag for r in self.roles if r.role == role), None)

    def to_dict(self) -> dict:
        return {"roles": {r.role: {"tag": r.tag, "how": r.how} for r in self.roles}, "unplaced": list(self.unplaced)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | None) -> Reading:
        try:
            data = json.loads(text or "{}")
            roles = tuple(Role(role, str(v["tag"]), str(v["how"])) for role, v in data.get("roles", {}).items())
            return cls(roles, tuple(str(tag) for tag in data.get("unplaced", ())))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()

    def lines(self, limit: int = 8) -> list[str]:
        """The reading in a few lines: the whole-run roles, then each per-layer family by its
        kernels (input side first), then how many tags kept their names and what was not placed."""
        renamed = [r for r in self.roles if r.role != r.tag]
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
        same = len(self.roles) - len(renamed)
        if same:
            lines.append(f"{same} tags read under their own name" if renamed else f"all {same} tags read under their own name")
        if self.unplaced:
            names = ", ".join(printable(tag, 60) for tag in self.unplaced[:limit])
            lines.append(f"not placed: {names}{_more(len(self.unplaced) - limit)}")
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
