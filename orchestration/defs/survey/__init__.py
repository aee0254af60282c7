"""Raw assets of the survey source system (export formats in ``orchestration/exports/survey.py``)."""

from orchestration.defs.raw import raw_defs
from orchestration.exports import survey

defs = raw_defs(survey.TABLES)
