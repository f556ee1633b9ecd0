"""Personal API keys: machine credentials that act as their user, minus admin powers."""
