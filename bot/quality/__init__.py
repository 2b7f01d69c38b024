"""Tooling that measures the project (evaluation, tuning, dev set, benchmark, indicator spans); nothing at run time imports it."""
