"""Larger sub-commands of the command line, one module each; :mod:`mediamix.cli` registers them."""
