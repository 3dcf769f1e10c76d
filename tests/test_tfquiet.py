"""The one fd-2 redirect: C-level writes go to the log, Python's stderr can stay on the terminal."""

from __future__ import annotations

import os
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


THREADS = textwrap.dedent("""
    import sys
    from core.system.tfquiet import cap_threads, import_tensorflow_quietly
    tf = import_tensorflow_quietly(sys.argv[1], threads=1)
    threading = tf.config.threading
    print(threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads(), cap_threads(tf, 3))
""")


def test_training_threads_are_capped_before_the_first_op_unless_the_environment_sets_them(tmp_path):
    def run(**env):
        out = subprocess.run([sys.executable, "-c", THREADS, str(tmp_path / "tf.log")], capture_output=True, text=True,
                             timeout=120, env={**os.environ, **env}, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    # Capped by the import; too late once TensorFlow has run an op (the import's first op).
    assert run() == ["1", "1", "False"]
    # TensorFlow reads the variable itself when its pools start; the cap leaves that setting alone.
    assert run(TF_NUM_INTEROP_THREADS="2") == ["1", "0", "False"]
