"""Internals of :mod:`rjax.optim`."""
