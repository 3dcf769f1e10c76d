"""Shared test set-up: quiet TensorFlow before anything imports it, and keep it on few threads."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TBLAB_NO_DOWNLOAD", "1")  # CI has no network; never wait for one
