"""`python -m router`: the agent/admin API with the inbound consumer."""

from router.app import create_app
from router.settings import RouterSettings
from services.health import serve
from services.logging import configure_logging


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.log_level, "router")
    serve(create_app(settings), settings.host, settings.port)  # exits 1 when its consumer failed


if __name__ == "__main__":
    main()
