"""Development tooling: the local control plane, the cluster commands and the demo.

Not part of the runtime: it lives outside ``src/`` so that the wheel and the image do not
carry it, and the runtime never imports it (an import-linter contract checks that). Run it
from the repository root: ``python -m eligibility_operator_dev --help`` (the Makefile does).
"""
