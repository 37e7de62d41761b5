"""One module per provider API the sandbox plays; each exposes `routes(sandbox) -> APIRouter`."""
