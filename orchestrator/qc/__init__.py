"""Clip checks: decode each downloaded clip once into scores, a verdict and pictures.

``rules`` is pure (the spec and the plan use it); ``check`` and below need PyAV and numpy.
"""
