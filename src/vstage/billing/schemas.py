"""Billing request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vstage.billing.webhooks import Outcome


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=64, examples=["pro"])


class RedirectUrl(BaseModel):
    """Where to send the browser next (a Stripe-hosted page)."""

    url: str


class WebhookAck(BaseModel):
    received: bool = True
    outcome: Outcome
