"""The dispatcher: sends stored replies through each channel's real API, with retries and a dead-letter topic."""
