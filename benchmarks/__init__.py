"""Benchmarks of the real stack: see docs/performance.md for what they show and how to run them."""
