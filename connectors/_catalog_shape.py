"""What the platform-app generators read from the event-type catalog besides the example itself.

Pure. A platform app describes a trigger's output twice: a sample (one whole body, from the
catalog example) and a list of fields a user maps. The fields must be the keys present on *every*
event, not the ones that follow one study's questions (``result_nps``) or one form's hidden
fields: a field offered in the editor that is missing at run time breaks the user's scenario.
``steady_example`` finds them from the catalog's JSON Schema, without a list of key prefixes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

ACRONYMS = {"id": "ID", "url": "URL", "nps": "NPS"}  # words a label writes in capitals


def steady_example(schema: dict[str, Any], example: Any) -> Any:
    """The example with every array emptied and every free-form object (no ``properties`` in its
    schema) emptied: mapped, it has exactly the keys that every event of the type has."""
    if isinstance(example, list):
        return []
    if not isinstance(example, dict):
        return example
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {key: steady_example(properties.get(key, {}), value) for key, value in example.items()}


def type_words(event_type: str) -> tuple[str, str]:
    """``survey.response.completed`` -> (noun ``Survey Response``, label ``Survey Response
    Completed``): the noun is everything before the last segment, the label all of it."""
    parts = [p for p in re.split(r"[._]", event_type) if p]
    noun = " ".join(p.capitalize() for p in parts[:-1]) or parts[-1].capitalize()
    return noun, " ".join(p.capitalize() for p in parts)


def key_words(key: str) -> list[str]:
    """``persona_name`` / ``occurredAt`` / ``transcript[]text`` -> their words, lower case."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return [w.lower() for w in re.split(r"[^0-9a-zA-Z]+", split) if w]


def title_label(key: str) -> str:
    """``persona_name`` -> ``Persona Name`` (Zapier's labels are title case)."""
    return " ".join(ACRONYMS.get(w, w.capitalize()) for w in key_words(key))


def sentence_label(key: str) -> str:
    """``occurredAt`` -> ``Occurred at`` (Make's labels are sentence case)."""
    words = [ACRONYMS.get(w, w) for w in key_words(key)]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]) if words else key


def is_datetime(value: Any) -> bool:
    """An ISO 8601 date-time with a time part (``2025-11-20T14:32:10Z``), as the mappings write."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
