"""A simulated service day that drives the real queue engine, the proofs of its dispatch, and the
managers' what-if tool (`onewindow what-if`). Run `python -m sim` for the full report."""
