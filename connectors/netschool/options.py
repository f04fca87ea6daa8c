"""NetSchool's options (a school's ``options`` table in the config)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from core.connector import PlatformOptions

__all__ = ["NetSchoolOptions"]


class NetSchoolOptions(PlatformOptions):
    #: Seconds to wait for a family account's ``studenttotalmarks`` report to be built (the
    #: official client waits 60 s, note §7); only used when family accounts are configured.
    report_timeout: Annotated[float, Field(gt=0, le=600)] = 60.0
