"""The base every wire model shares: frozen, strict about unknown fields, versioned."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A record that crosses a process boundary; a consumer refuses a `schema_version` it cannot read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
