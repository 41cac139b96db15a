"""Benchmarks (``make bench``): numbers for the README, never assertions."""
