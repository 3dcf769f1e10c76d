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
    ACTIVATIONS,
    GRADIENTS,
    INPUT_STATS,
    LAYERED,
    LOGITS,
    LOSS,
    NONFINITE_COUNT,
    WEIGHTS,
)
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
        """The reading in a few lines: the roles read from other names first, then how many kept theirs."""
        renamed = [r for r in self.roles if r.role != r.tag]
        shown = [f"{r.role} <- {printable(r.tag, 80)}" + ("" if r.how in (BY_NAME, BY_WORDS) else f" (by {r.how})")
                 for r in renamed[:limit]]
        lines = []
        if shown:
            more = len(renamed) - limit
            lines.append("read as: " + "; ".join(shown) + (f"; and {more} more (--json lists all)" if more > 0 else ""))
        same = len(self.roles) - len(renamed)
        if same:
            lines.append(f"{same} tags read under their own name" if renamed else f"all {same} tags read under their own name")
        if self.unplaced:
            names = ", ".join(printable(tag, 60) for tag in self.unplaced[:limit])
            more = len(self.unplaced) - limit
            lines.append(f"not placed: {names}" + (f" and {more} more" if more > 0 else ""))
        return lines


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
