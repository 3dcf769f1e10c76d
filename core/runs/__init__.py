"""Runs end to end: the one run recipe, headless runs, sweeps, experiments, verification and the report."""
