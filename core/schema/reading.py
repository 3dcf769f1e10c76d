"""The Reading: how a log was read, as part of every answer. Each role tblab fills (the loss,
the accuracy, the test accuracy, each variable's gradient norm, weights, activations, the
inputs) names the tag it came from and how it was recognised (by its name, by its words, by
its content, or by the user's `--tag ROLE=TAG`); the tags that could not be placed are listed.

Roles are tblab's own names (core/schema/tags.py), `test/<name>` for the test-set half; a layer
keeps the log's own name (`grad_norm/w0/kernel` for `gradients/w0:0`). The reader of TensorBoard
logs fills it (core/tensorboard/reading/); a run tblab records itself reads as itself.
"""

from __future__ import annotations

from dataclasses import dataclass

TEST = "test/"  # role prefix of the test-set half's values
BY_NAME, BY_WORDS, BY_CONTENT, BY_USER = "name", "words", "content", "--tag"


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

    @classmethod
    def from_dict(cls, data: dict) -> Reading:
        """The inverse of to_dict; anything malformed gives an empty Reading."""
        try:
            roles = tuple(Role(role, str(v["tag"]), str(v["how"])) for role, v in data.get("roles", {}).items())
            return cls(roles, tuple(str(tag) for tag in data.get("unplaced", ())))
        except (TypeError, KeyError, AttributeError):
            return cls()
