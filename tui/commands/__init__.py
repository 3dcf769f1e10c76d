"""The `tblab` subcommands, one module each; shared argument checks live here."""


def count_problem(args, *names: str) -> str:
    """The one-line error for a count option (`--jobs`, `--steps`) below 1, or "" when each
    named option is unset or >= 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            return f"--{name} must be >= 1"
    return ""
