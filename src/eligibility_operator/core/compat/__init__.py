"""The CompatibilityMatrix, image references and versions. Pure.

The compiled matrix and its checks, image parsing, version lines, platform lines, matrix diffs.
"""
