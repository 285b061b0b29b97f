"""The CompatibilityMatrix and versions: compiled matrix, version lines, platform lines, matrix diffs. Pure."""
