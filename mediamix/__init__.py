"""Bayesian Media Mix Modeling on PyMC."""
