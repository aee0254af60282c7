"""Raw assets of the pos source system (export formats in ``orchestration/exports/pos.py``)."""

from orchestration.defs.raw import raw_defs
from orchestration.exports import pos

defs = raw_defs(pos.TABLES)
