"""Stakater's release pipeline for the CompatibilityMatrix: build it from a chart index, diff two of them.

``sources`` reads the inputs (files, https URLs, with a size cap), ``chart_index`` derives release
lines from a Helm repository ``index.yaml``, ``build`` merges them into a base matrix; the diff is
:mod:`eligibility_operator.core.compat.matrix_diff` (pure, reused by the runtime).
"""
