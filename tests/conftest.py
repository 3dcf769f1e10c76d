"""Shared test set-up: quiet TensorFlow before anything imports it, and keep it on few threads."""

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TBLAB_NO_DOWNLOAD", "1")  # CI has no network; never wait for one

# A suite started in the background (`make test &` in a script) inherits SIGINT ignored, and so
# would every tblab process the tests start: the Ctrl-C tests need it delivered.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
