"""The suite runs as development (CONTRACT.md: `SWITCHBOARD_ENV` is `development` for the tests), so the
settings its unit tests build take the sandbox defaults; tests/services/test_settings.py asks for
production explicitly. Subprocesses get their env from tests/integration/conftest.py."""

import os

os.environ["SWITCHBOARD_ENV"] = "development"
