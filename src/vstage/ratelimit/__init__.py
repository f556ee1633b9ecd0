"""Per-user request rate limits, counted in the database so they hold across replicas."""
