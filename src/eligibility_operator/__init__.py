"""Support eligibility for Stakater products, enforced in the cluster."""

__version__ = "0.1.0"
