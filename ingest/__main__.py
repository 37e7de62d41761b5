"""`python -m ingest`: serve the webhook endpoints."""

from ingest.app import create_app
from ingest.settings import IngestSettings
from services.health import serve
from services.logging import configure_logging


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level, "ingest")
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
