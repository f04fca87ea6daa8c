"""The municipal console: a JSON API and server-rendered pages (in Russian) over the store,
with token roles, an audit log and Prometheus metrics (``journalsync web``, ``serve --http``).

    app = create_app(plan, store)     # an ASGI app (FastAPI)
"""

from console._app import create_app
from console._data import overview
from console._tokens import ROLES, Principal, audit, create_token, list_tokens, revoke_token

__all__ = [
    "ROLES",
    "Principal",
    "audit",
    "create_app",
    "create_token",
    "list_tokens",
    "overview",
    "revoke_token",
]
