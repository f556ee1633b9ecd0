"""The usage ledger and the quota it enforces."""
