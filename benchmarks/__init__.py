"""Benchmarks of tabnine-usage-async against the baselines users would otherwise pick.

Run with ``make bench``; see ``benchmarks/README.md``.
"""
