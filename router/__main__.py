"""`python -m router`: the agent/admin API with the inbound consumer."""

import uvicorn

from router.app import create_app
from router.settings import RouterSettings
from services.logging import configure_logging


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.log_level, "router")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
