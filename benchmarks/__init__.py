"""Benchmarks; run each as a module (``python -m benchmarks.NAME``) so that
``benchmarks/queue.py`` never shadows the standard library's ``queue``."""
