"""The cluster's products: images, workloads, detection, GitOps sources, the inventory, coverage. Pure."""
