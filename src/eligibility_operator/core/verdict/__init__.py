"""The engagement verdict: evaluation, per-product judgement, policy, messages, spec checks. Pure."""
