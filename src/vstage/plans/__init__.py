"""Plans: what a subscription buys (monthly staging capacity)."""
