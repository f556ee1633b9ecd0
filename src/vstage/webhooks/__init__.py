"""Outbound webhooks: signed image events pushed to URLs users register."""
