"""Watching a user's own training script: run-time hooks that run inside a child process.

`python -m core.watch.child SCRIPT` installs the hooks (core.watch.hooks), runs the
script unmodified as __main__, and streams StepRecord-shaped messages to the parent
over a pipe (core.watch.protocol). The parent side lives in core.runs.watch.
core.watch.scan reads a script without running it (which fixes can apply, and why).
"""
