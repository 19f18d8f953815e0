"""GET /v1/me/usage: what a person used, per day and model."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class UsageRow(BaseModel):
    day: dt.date = Field(description="the UTC day")
    kind: str = Field(description="chat, image, audio, video or training")
    provider: str
    model: str | None = Field(description="the upstream model name, as the vendor bills it")
    requests: int
    input_tokens: int = Field(description="chat: the prompt tokens the vendor counted")
    output_tokens: int = Field(description="chat: the answer tokens the vendor counted")
    units: float = Field(description="chat: tokens in and out; generations: files produced")
    cost_cents: int


class UsageTotals(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    cost_cents: int


class UsageSummary(BaseModel):
    since: dt.date
    until: dt.date
    items: list[UsageRow]
    totals: UsageTotals
