"""Deterministic data for the person.run simulator: ids, personas, the concept-test skill and task
durations (each task's answers, transcript and scores are in ``content``).

Everything here is a pure function of the seed and the ids involved (no clock, no global random
state), so two simulators with the same seed that receive the same requests serve identical data.
Answers, transcripts and scores depend on (seed, study, persona); personas on (seed, population).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from typing import Any

DEFAULT_TENANT_ID = "11111111-1111-1111-1111-111111111111"
DEFAULT_POPULATION_ID = "22222222-2222-4222-8222-222222222222"
DEFAULT_SKILL_ID = "33333333-3333-4333-8333-333333333333"
DEFAULT_POPULATION_SIZE = 50
SKILL_NAME = "Concept Test"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST_NAMES = _words(
    "Maya Liam Aria Noah Zara Ethan Priya Lucas Amara Mateo Chloe Omar Hana Diego Leah Kwame "
    "Sofia Ravi Emma Jonah Ines Marcus Yuki Felix Nadia Samuel Elena Tariq Grace Henrik Lena "
    "Andre Mei Oscar Fatima Caleb Julia Kenji Rosa Declan Aisha Victor Camille Idris Freya "
    "Tomas Layla Arjun"
)
_LAST_NAMES = _words(
    "Chen Okafor Garcia Patel Nguyen Smith Kowalski Haddad Johansson Silva Kim Murphy Rossi "
    "Mensah Tanaka Dubois Schmidt Alvarez Brown Singh Novak Ali Walsh Costa Yamamoto Fischer "
    "Moreau Adeyemi Lopez Larsen Cohen Reyes Hughes Ivanova Baker Osei Martin Ahmed Kelly "
    "Bianchi Park Nielsen Sato Wright Diaz Khan Foster Lindqvist"
)
_LOCATIONS = (
    ("Chicago, IL", "en-US"),
    ("Austin, TX", "en-US"),
    ("Seattle, WA", "en-US"),
    ("Brooklyn, NY", "en-US"),
    ("Atlanta, GA", "en-US"),
    ("Denver, CO", "en-US"),
    ("Phoenix, AZ", "en-US"),
    ("Columbus, OH", "en-US"),
    ("San Diego, CA", "en-US"),
    ("Boise, ID", "en-US"),
    ("Manchester, UK", "en-GB"),
    ("Bristol, UK", "en-GB"),
    ("London, UK", "en-GB"),
    ("Glasgow, UK", "en-GB"),
    ("Toronto, ON", "en-CA"),
    ("Vancouver, BC", "en-CA"),
    ("Sydney, NSW", "en-AU"),
    ("Melbourne, VIC", "en-AU"),
    ("Dublin, IE", "en-IE"),
    ("Auckland, NZ", "en-NZ"),
)
_OCCUPATIONS = (
    "UX researcher",
    "Nurse",
    "High-school teacher",
    "Software engineer",
    "Accountant",
    "Electrician",
    "Graphic designer",
    "Pharmacist",
    "Sales manager",
    "Chef",
    "Data analyst",
    "Paramedic",
    "Marketing coordinator",
    "Civil engineer",
    "Small-business owner",
    "Barista",
    "Logistics planner",
    "Dental hygienist",
    "Journalist",
    "Physiotherapist",
    "Architect",
    "Customer-support lead",
    "Real-estate agent",
    "Lab technician",
)
# (min age, max age, segment labels to pick from)
_SEGMENTS = (
    (18, 24, ("Students 18-24", "Early-career renters 18-24")),
    (25, 34, ("Young professionals 25-34", "Renters 25-34")),
    (35, 44, ("Young families 35-44", "Established professionals 35-44")),
    (45, 54, ("Families with teens 45-54", "Mid-career homeowners 45-54")),
    (55, 64, ("Empty nesters 55-64", "Pre-retirees 55-64")),
    (65, 78, ("Retirees 65+",)),
)


@dataclass(frozen=True)
class Question:
    """One question of the concept-test skill (keys and labels as in persona_task_output.json)."""

    id: str
    key: str
    type: str
    prompt: str
    options: tuple[tuple[str, str], ...] = ()
    scale: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "type": self.type,
            "prompt": self.prompt,
        }
        if self.options:
            out["options"] = [{"key": k, "label": label} for k, label in self.options]
        if self.scale is not None:
            out["scale"] = {"min": self.scale[0], "max": self.scale[1]}
        return out


INTENT_OPTIONS = (
    ("definitely", "Definitely would buy"),
    ("probably", "Probably would buy"),
    ("not_sure", "Not sure"),
    ("probably_not", "Probably would not buy"),
    ("definitely_not", "Definitely would not buy"),
)
DRIVER_OPTIONS = (
    ("taste", "Taste"),
    ("price", "Price"),
    ("sustainability", "Sustainability"),
    ("nutrition", "Nutrition"),
    ("packaging", "Packaging"),
)
QUESTIONS = (
    Question(
        "q_nps",
        "nps",
        "nps",
        "How likely are you to recommend this product to a friend or colleague?",
        scale=(0, 10),
    ),
    Question(
        "q_intent",
        "purchase_intent",
        "single_choice",
        "How likely would you be to buy this product?",
        options=INTENT_OPTIONS,
    ),
    Question(
        "q_drivers",
        "appeal_drivers",
        "multi_choice",
        "What appeals to you about this concept? (Select all that apply)",
        options=DRIVER_OPTIONS,
    ),
    Question(
        "q_feedback", "open_feedback", "free_text", "What would you change about this product?"
    ),
    Question(
        "q_rating",
        "overall_rating",
        "rating",
        "Overall, how would you rate this concept?",
        scale=(1, 5),
    ),
)
SCORE_CRITERIA = (
    ("coherence", "Coherence"),
    ("persona_fidelity", "Persona fidelity"),
    ("answer_consistency", "Answer consistency"),
    ("engagement", "Engagement"),
)


def skill_json(skill_id: str = DEFAULT_SKILL_ID) -> dict[str, Any]:
    """The concept-test skill as person.run's ``GET /skills`` lists it."""
    return {
        "id": skill_id,
        "name": SKILL_NAME,
        "description": "Five-question concept test: NPS, purchase intent, appeal drivers, "
        "open feedback and an overall rating, asked in a short interview.",
        "version": 1,
        "questions": [q.to_json() for q in QUESTIONS],
        "scoring": {"criteria": [{"key": k, "name": n} for k, n in SCORE_CRITERIA]},
    }


def _digest(seed: int, parts: tuple[str, ...]) -> bytes:
    return hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()


def derive_uuid(seed: int, *parts: str) -> str:
    """A stable UUID (version 4 layout) for ``parts`` under ``seed``."""
    return str(uuid.UUID(bytes=_digest(seed, parts)[:16], version=4))


def rng_for(seed: int, *parts: str) -> random.Random:
    """A private random stream for ``parts`` under ``seed`` (never the global one)."""
    return random.Random(int.from_bytes(_digest(seed, parts), "big"))


@dataclass(frozen=True)
class Persona:
    """A synthetic panel member; ``enthusiasm`` and ``price_sensitive`` steer answers, unserved."""

    id: str
    first_name: str
    last_name: str
    age: int
    location: str
    locale: str
    occupation: str
    segment: str
    enthusiasm: float
    price_sensitive: bool

    def to_json(self) -> dict[str, Any]:
        # person.run's persona seed fields (POST /personas): firstName, lastName, age, location,
        # baseOccupation.
        return {
            "id": self.id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "age": self.age,
            "location": self.location,
            "baseOccupation": self.occupation,
            "segment": self.segment,
            "locale": self.locale,
        }


def generate_personas(seed: int, population_id: str, size: int) -> list[Persona]:
    """``size`` personas with distinct names (at most len(first) * len(last) of them)."""
    rng = rng_for(seed, "population", population_id)
    combos = rng.sample(range(len(_FIRST_NAMES) * len(_LAST_NAMES)), size)
    personas = []
    for index, combo in enumerate(combos):
        first, last = divmod(combo, len(_LAST_NAMES))
        lo, hi, segments = rng.choice(_SEGMENTS)
        age = rng.randint(lo, hi)
        location, locale = rng.choice(_LOCATIONS)
        occupation = rng.choice(_OCCUPATIONS)
        if age <= 22 and rng.random() < 0.6:
            occupation = "Student"
        elif age >= 67:
            occupation = f"Retired {occupation[0].lower()}{occupation[1:]}"
        personas.append(
            Persona(
                id=derive_uuid(seed, "persona", population_id, str(index)),
                first_name=_FIRST_NAMES[first],
                last_name=_LAST_NAMES[last],
                age=age,
                location=location,
                locale=locale,
                occupation=occupation,
                segment=rng.choice(segments),
                enthusiasm=round(rng.random(), 3),
                price_sensitive=rng.random() < 0.4,
            )
        )
    return personas


def task_duration_ms(
    seed: int, run_id: str, persona_id: str, task_seconds: tuple[float, float]
) -> int:
    """How long one task runs, at least 1 ms (so ``completedAt`` is after ``startedAt``)."""
    low, high = task_seconds
    return max(1, round(rng_for(seed, "duration", run_id, persona_id).uniform(low, high) * 1000))
