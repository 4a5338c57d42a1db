"""Shared machinery for baselines (the problem plugins register the baselines themselves)."""
