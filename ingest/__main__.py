"""`python -m ingest`: serve the webhook endpoints."""

import uvicorn

from ingest.app import create_app
from ingest.settings import IngestSettings
from services.logging import configure_logging


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level, "ingest")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
