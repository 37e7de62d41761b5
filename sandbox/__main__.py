"""`python -m sandbox`: serve the provider sandbox."""

import os

import uvicorn

from sandbox.app import create_app


def main() -> None:
    uvicorn.run(
        create_app(),
        host=os.environ.get("SWITCHBOARD_HOST", "127.0.0.1"),
        port=int(os.environ.get("SWITCHBOARD_SANDBOX_PORT", "8090")),
        access_log=False,
    )


if __name__ == "__main__":
    main()
