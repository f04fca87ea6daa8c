"""The platform-neutral kit every connector builds on (DESIGN §5).

Five connectors were written from the same reference and each grew its own copy of the same
scaffolding; the copies live here once. Nothing in this package names a platform: a connector
passes its own name (for messages), logger, id keys and time zone.

* :mod:`._schema` — payload models tolerant of unknown fields (reported once as schema drift),
  per-item list parsing where a bad item becomes a :class:`Bad` placeholder;
* :mod:`._batch` — the records and quarantine entries collected for one page;
* :mod:`._cursor` — resumable ``{"pass", "done", "complete"}`` stream cursors;
* :mod:`._runner` — the scope runner: a stream's pass over the scopes a connector lists, read
  as the connector says, with the cursor bookkeeping, resumption and closing page done here;
* :mod:`._streams` — stream names and the entity sets their pages carry in full;
* :mod:`._records` — provenance, person keys and ids, full-name splitting for mappings;
* :mod:`._descriptor` — :class:`Platform`, the one object each ``connectors/<name>`` exports;
* :mod:`._registry` — the installed platforms (entry point group ``journalsync.platforms``).
"""

from ._batch import Batch, PageBatch
from ._cursor import (
    StreamPass,
    closing_page,
    pass_cursor,
    single_page,
    start_pass,
    visible_members,
)
from ._descriptor import Platform
from ._records import person_id, person_key, provenance, split_full_name
from ._registry import (
    GROUP,
    connector_class,
    get_platform,
    installed,
    platform_title,
    platforms,
)
from ._runner import Sampler, Scopes, each_account, one_page, run_pass, run_streams
from ._schema import Bad, PayloadReader, PlatformModel
from ._streams import (
    FINAL_ENTITIES,
    FINALS,
    JOURNAL,
    JOURNAL_ENTITIES,
    ROSTER,
    ROSTER_ENTITIES,
)

__all__ = [
    "FINALS",
    "FINAL_ENTITIES",
    "GROUP",
    "JOURNAL",
    "JOURNAL_ENTITIES",
    "ROSTER",
    "ROSTER_ENTITIES",
    "Bad",
    "Batch",
    "PageBatch",
    "PayloadReader",
    "Platform",
    "PlatformModel",
    "Sampler",
    "Scopes",
    "StreamPass",
    "closing_page",
    "connector_class",
    "each_account",
    "get_platform",
    "installed",
    "one_page",
    "pass_cursor",
    "person_id",
    "person_key",
    "platform_title",
    "platforms",
    "provenance",
    "run_pass",
    "run_streams",
    "single_page",
    "split_full_name",
    "start_pass",
    "visible_members",
]
