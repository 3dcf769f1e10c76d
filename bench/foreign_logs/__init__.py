"""Labelled TensorBoard logs written by programs that are not tblab (issue 14).

Each writer here is a plain TensorFlow / Keras training script of the kind a course
notebook or a Keras tutorial contains; none imports tblab's core/ or tui/. The suite
(`suite.py`) says which runs to write and what is wrong with each; `bench/gen_foreign_logs.py`
writes them with a manifest, `bench/foreign_eval.py` runs tblab's doctor over them.
"""
