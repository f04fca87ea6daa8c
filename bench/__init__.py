"""Benchmarks (`make bench`). Each figure runs in its own process so peak RSS is its own."""
