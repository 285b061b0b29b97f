"""The cluster's products: workloads, detection, GitOps sources, the inventory, coverage. Pure."""
