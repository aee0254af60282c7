"""Raw assets of the ecommerce source system (export formats in ``orchestration/exports/ecommerce.py``)."""

from orchestration.defs.raw import raw_defs
from orchestration.exports import ecommerce

defs = raw_defs(ecommerce.TABLES)
