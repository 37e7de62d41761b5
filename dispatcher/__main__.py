"""`python -m dispatcher`: send replies through the channels' APIs."""

from dispatcher.app import create_app
from dispatcher.settings import DispatcherSettings
from services.health import serve
from services.logging import configure_logging


def main() -> None:
    settings = DispatcherSettings()
    configure_logging(settings.log_level, "dispatcher")
    serve(create_app(settings), settings.host, settings.port)  # exits 1 when its consumer failed


if __name__ == "__main__":
    main()
