"""`python -m dispatcher`: send replies through the channels' APIs."""

import uvicorn

from dispatcher.app import create_app
from dispatcher.settings import DispatcherSettings
from services.logging import configure_logging


def main() -> None:
    settings = DispatcherSettings()
    configure_logging(settings.log_level, "dispatcher")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
