"""A local stand-in for the providers' send APIs: records every request, can fail or be slow on demand."""
