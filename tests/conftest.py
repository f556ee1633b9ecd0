"""Shared fixtures live in ``tests/fixtures``; each module is a pytest plugin."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.committed",
    "tests.fixtures.s3",
    "tests.fixtures.stripe",
    "tests.fixtures.auth0",
]
