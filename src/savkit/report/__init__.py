"""Evaluation results people can look at and compare: ``savkit report`` and ``savkit compare``.

The library builds the tables, statistics and figures (matplotlib, the ``report`` extra) and returns them as text
and bytes; the CLI writes the files.
"""
