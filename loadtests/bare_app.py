"""`python -m loadtests.bare_app PORT`: the HTTP ceiling of this machine for `make bench`.

The same route as ingest's webhook, served the same way (FastAPI under uvicorn, one process), doing only
what every HTTP service must: read the body and answer. The pipeline's highest rate is reported as a
share of this one's, so the figure means something on other machines too.
"""

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.metrics import FASTAPI_TELEMETRY_OFF

app = FastAPI(title="bare webhook endpoint", telemetry=FASTAPI_TELEMETRY_OFF)


@app.post("/webhooks/{channel}")
async def accept(channel: str, request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"accepted": 1})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
