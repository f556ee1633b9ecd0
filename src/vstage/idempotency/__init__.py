"""``Idempotency-Key`` support for POST routes that create things (DESIGN §3)."""
