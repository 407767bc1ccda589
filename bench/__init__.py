"""Benchmarks of mediamix against PyMC-Marketing, and a parameter-recovery study.

``python -m bench`` (``make bench`` / ``make recovery``) runs them. The package is imported by
two environments: the project's ``.venv`` (the harness and the mediamix runner) and the separate
``.venv-bench`` that holds PyMC-Marketing (its runner), so this file and :mod:`bench.metrics`
import nothing from mediamix.
"""
