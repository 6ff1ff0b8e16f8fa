"""Language understanding for the voice receptionist: the typed schema and the deterministic local parser.

``parse(text, now=..., time_zone=..., expecting=..., event_types=..., offered=...)`` turns one caller
utterance into an :class:`Understanding`; a language model adapter fills the same schema. The package is
pure (no I/O) and light to import.
"""

from shared.domain.understanding.needs import choose_service, names_work
from shared.domain.understanding.parser import parse, service_catalog, warm_up
from shared.domain.understanding.preferences import Constraints, accepts, constraints, search_window
from shared.domain.understanding.schema import (Choice, CorrectableField, DayPart, EmergencySignal, Expecting,
                                                Intent, TimePreference, Understanding, Weekday, YesNo)

__all__ = ["choose_service", "Choice", "Constraints", "constraints", "CorrectableField", "DayPart", "EmergencySignal",
           "Expecting", "Intent", "TimePreference", "Understanding", "Weekday", "YesNo", "accepts", "names_work",
           "parse", "search_window", "service_catalog", "warm_up"]
