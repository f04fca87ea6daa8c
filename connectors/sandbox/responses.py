"""The emulators' JSON response: Starlette's, rendered by orjson.

The bytes are those of Starlette's own ``JSONResponse`` (compact separators, UTF-8 rather than
``\\u`` escapes, integer keys as strings) for every payload the emulators build; orjson writes
them several times faster, and the emulators run inside the pull benchmark's timed part.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse

__all__ = ["JSONResponse"]


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
