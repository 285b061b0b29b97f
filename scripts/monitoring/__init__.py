"""Generators for the monitoring files in deploy/: Grafana dashboards and Prometheus rules.

Run through ``scripts/generate_monitoring.py`` (``make generate``); a test fails when the committed
files differ from what these modules produce.
"""
