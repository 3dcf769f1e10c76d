"""The child process of a watched script: `python -m core.watch.child SPEC_JSON SCRIPT [ARGS...]`.

Installs the hooks, runs SCRIPT unmodified as __main__ (sys.argv as if run directly), and
streams messages to the parent on the file descriptor named by $TBLAB_WATCH_FD. It dies
with its parent: PR_SET_PDEATHSIG on Linux, and a write to a closed pipe ends it.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path

from core.watch.protocol import FD_ENV, Channel
from core.watch.spec import WatchSpec, WatchStop

PARENT_ENV = "TBLAB_WATCH_PARENT"
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent dies; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the closed pipe still ends the child at its next message
    expected = os.environ.get(PARENT_ENV)
    if expected and int(expected) != os.getppid():
        os._exit(1)


def trimmed_traceback(error: BaseException, script: Path) -> str:
    """The traceback cut to the user's own frames (files in the script's folder)."""
    if isinstance(error, SyntaxError):
        return "".join(traceback.format_exception_only(type(error), error)).rstrip()
    folder = script.resolve().parent
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve().parent == folder and "core/watch" not in f.filename]
    shown = own or frames[-1:]
    text = "Traceback (most recent call last, the script's own frames):\n"
    text += "".join(traceback.format_list(shown))
    text += "".join(traceback.format_exception_only(type(error), error))
    return text.rstrip()


def main(argv: list[str]) -> int:
    die_with_parent()
    spec = WatchSpec.from_json(argv[0])
    script = Path(argv[1])
    channel = Channel(int(os.environ[FD_ENV]))

    def stop_on_signal(signum, frame):
        raise WatchStop("stopped")

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop_on_signal)

    from core.system.tfquiet import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    watch = _hooked_watch(spec, channel, script)
    sys.argv = [str(script), *argv[2:]]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        with tf.variable_creator_scope(watch.variables.creator):
            runpy.run_path(str(script), run_name="__main__")
        reason, code = "finished", 0
    except BaseException as error:  # noqa: BLE001 - whatever ended the script, the parent gets its end
        reason, code = _how_it_ended(error, watch, channel, script)
    _finish(watch, channel, spec, reason)
    return code


def _hooked_watch(spec: WatchSpec, channel: Channel, script: Path):
    """The Watch of this process, with TensorFlow, Keras and the MNIST loaders hooked."""
    from core.watch.data import install_mnist_loader, mnist_loader
    from core.watch.functions import install_function_hook
    from core.watch.hooks import Watch, install
    from core.watch.keras_fit import install_fit_hook, install_optimizer_hook
    from core.watch.variables import names_in_scope

    main_module = sys.modules["__main__"]
    # runpy puts the script's own module in sys.modules["__main__"] while it runs: its globals,
    # and the locals of its functions on the stack, give the script's names for its variables.
    folder = script.resolve().parent

    def namespace_of() -> dict:
        running = sys.modules.get("__main__")
        return names_in_scope(folder, vars(running) if running is not main_module else {})

    watch = Watch(spec, channel, namespace_of=namespace_of)

    def served(source: str, test_size: int) -> None:
        channel.send("data", source=source)

    loader = mnist_loader(spec.data_path, served)

    def served_with_labels(*args, **kwargs):
        arrays = loader(*args, **kwargs)
        watch.test_labels = arrays[1][1]
        return arrays

    install_mnist_loader(served_with_labels)
    install(watch)
    install_fit_hook(watch)
    install_optimizer_hook(watch)
    install_function_hook(script, watch.notice)
    return watch


def _how_it_ended(error: BaseException, watch, channel: Channel, script: Path) -> tuple[str, int]:
    """The end's reason and exit code for what the script raised; a failure's traceback
    (or exit status) goes to the parent."""
    if isinstance(error, WatchStop):
        return error.reason, 0
    if isinstance(error, StopIteration):
        if watch.stopping:
            return "steps", 0
        channel.send("error", text=trimmed_traceback(error, script))
        return "error", 1
    if isinstance(error, SystemExit):
        code = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
        if code:
            channel.send("error", text=f"the script exited with status {code}")
        return ("error" if code else "finished"), code
    try:  # the user's script failed: its traceback goes to the parent
        channel.send("error", text=trimmed_traceback(error, script))
    except Exception:
        pass
    return "error", 1


def _finish(watch, channel: Channel, spec: WatchSpec, reason: str) -> None:
    """The last step's record, every snapshot sent, the fixes that found nothing, the end."""
    try:
        watch.finish_pending()
        watch.drain()
        unfixed = sorted(set(spec.fixes) & {"activation", "logits", "no_noise"} - watch.patches.seen)
        if watch.step and unfixed:
            channel.send("notice", text=f"fix {', '.join(unfixed)}: found nothing to change in this run")
        channel.send("end", steps=watch.step, reason=reason, unrecorded=watch.recorder.unrecorded,
                     other_model=watch.other_model_steps)
    except BaseException:
        pass
    channel.close()
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
