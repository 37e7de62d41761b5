"""The contract between Switchboard's processes: versioned, frozen pydantic models, orjson on the wire."""
