"""Raw assets of the crm source system (export formats in ``orchestration/exports/crm.py``)."""

from orchestration.defs.raw import raw_defs
from orchestration.exports import crm

defs = raw_defs(crm.TABLES)
