"""Scoring fixed episodes, loading any model, results tables.

``metrics`` and ``scoring`` import only the layers below ``lightning`` (the episodic base uses
them for its validation and test loops); ``loading`` and the tables sit above ``lightning``.
Import the submodules directly; this package module imports nothing.
"""
