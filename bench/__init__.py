"""Benchmarks (`make bench`): each suite compares ddbload against baselines in the same run."""
