"""Listing batches: a whole project staged in one request with one shared style seed."""
