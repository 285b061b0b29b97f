"""Support requests: triage, its inputs, scope rules, completeness, SLA, steps, records. Pure."""
