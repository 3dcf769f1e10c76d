"""The one fd-2 redirect: C-level writes go to the log, Python's stderr can stay on the terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, sys
    from core.system.tfquiet import stderr_fd_to_file
    log = sys.argv[1]
    with stderr_fd_to_file(log):
        os.write(2, b"c-level one\\n")
        print("python one", file=sys.stderr)  # without keep_python_stderr: to the log too
    with stderr_fd_to_file(log, keep_python_stderr=True) as terminal:
        os.write(2, b"c-level two\\n")
        print("python two", file=sys.stderr)
        assert sys.__stderr__ is terminal
    os.write(2, b"restored\\n")
""")


def test_stderr_fd_to_file_sends_c_writes_to_the_log_and_restores_fd_2(tmp_path):
    log = tmp_path / "sub" / "tf.log"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == ["python two", "restored"]
    assert log.read_text().splitlines() == ["c-level one", "python one", "c-level two"]
