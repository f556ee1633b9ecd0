"""Operator endpoints (role ``admin``): jobs now; users are added beside them."""
