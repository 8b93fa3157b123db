"""Parameter fields that several actions share."""

from __future__ import annotations

from ..fields import Field

OBJECT_ID = Field(kind="string", required=True)
OPTIONAL_OBJECT_ID = Field(kind="string")
EXPECTED_VERSION = Field(kind="integer", min=1)
PROPERTIES = Field(kind="mapping")
