"""Users: accounts created on first login, roles managed by operators."""
