"""The script's own @tf.function run eagerly, so the hooks can see inside its training step.

Inside a compiled function the hooks would run once, at tracing, on symbolic tensors.
Only functions defined in the script's folder are affected; TensorFlow's and Keras's own
tf.function (Keras fit's compiled step) stay compiled.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf


def install_function_hook(script: Path, notice) -> None:
    folder = script.resolve().parent
    original = tf.function

    def function(func=None, *args, **kwargs):
        if func is None:
            return lambda f: function(f, *args, **kwargs)
        code = getattr(func, "__code__", None)
        if code is not None and Path(code.co_filename).resolve().parent == folder:
            notice(f"your @tf.function {getattr(func, '__name__', '?')} runs eagerly, so tblab can see inside it")
            return func
        return original(func, *args, **kwargs)

    tf.function = function
