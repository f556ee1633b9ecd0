"""Web routes, one module per page area."""
