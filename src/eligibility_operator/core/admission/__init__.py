"""Admission: decisions on workload reviews, the review essentials, audit Events. Pure."""
