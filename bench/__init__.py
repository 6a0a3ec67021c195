"""Benchmarks of the relay on loopback (SPEC §9): each script is bounded in time and count,
prints one summary line and records its figures in docs/BENCHMARKS.md."""
