"""Deterministic task content: what one persona answered in one study, the interview transcript
(4-8 turns, interviewer first) and its scores, all from (seed, study, persona)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from gateway.sandbox.simulator.data import (
    DRIVER_OPTIONS,
    INTENT_OPTIONS,
    SCORE_CRITERIA,
    Persona,
    rng_for,
)

_CHANGES = (
    "a smaller size",
    "less packaging",
    "a lower price",
    "clearer labelling",
    "more flavour options",
    "a refill option",
    "a subscription discount",
    "a quieter design",
)


@dataclass(frozen=True)
class TaskContent:
    """What one persona produced for one study: answers by question key, transcript, scores.

    ``turn_offsets`` place each turn inside the task's running time, as fractions in (0, 1].
    """

    answers: dict[str, Any]
    summary: str
    turns: tuple[tuple[str, str], ...]
    turn_offsets: tuple[float, ...]
    overall: float
    criteria: tuple[tuple[str, str, float, str], ...]


def _intent_for(nps: int, rng: random.Random) -> str:
    jitter = rng.choice((-1, 0, 0, 0, 1))
    level = min(max(nps + jitter, 0), 10)
    if level >= 9:
        return "definitely"
    if level >= 7:
        return "probably"
    if level >= 5:
        return "not_sure"
    return "probably_not" if level >= 3 else "definitely_not"


def _drivers_for(persona: Persona, rng: random.Random) -> list[str]:
    weights = {
        "taste": 3.0,
        "price": 1.0,
        "sustainability": 1.5,
        "nutrition": 1.5,
        "packaging": 0.7,
    }
    if persona.price_sensitive:
        weights["price"] = 4.0
    if persona.age < 35:
        weights["sustainability"] += 1.0
    chosen: list[str] = []
    for _ in range(rng.randint(1, 3)):
        pool = [k for k in weights if k not in chosen]
        chosen.append(rng.choices(pool, weights=[weights[k] for k in pool])[0])
    return [k for k, _ in DRIVER_OPTIONS if k in chosen]  # in the question's option order


def _labels(keys: list[str]) -> list[str]:
    names = dict(DRIVER_OPTIONS)
    return [names[k].lower() for k in keys]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _feedback(persona: Persona, positive: bool, drivers: list[str], rng: random.Random) -> str:
    change = rng.choice(_CHANGES)
    role = persona.occupation.lower()
    if positive:
        return rng.choice(
            (
                f"I'd want {change}; otherwise the {_labels(drivers)[0]} makes it a fit for me.",
                f"Honestly not much. Maybe {change}, but it already suits my routine as a {role}.",
                f"{change[0].upper()}{change[1:]} would seal it. I'd try it this month.",
            )
        )
    return rng.choice(
        (
            f"It doesn't fit my routine as a {role}; {change} might change my mind.",
            f"I'd need {change} before I'd even try it, and the price feels high.",
            f"I'm not convinced. {change[0].upper()}{change[1:]}, and proof it beats my usual.",
        )
    )


def _transcript(
    persona: Persona, study_name: str, answers: dict[str, Any], rng: random.Random
) -> list[tuple[str, str]]:
    intent = {
        "definitely": "I'd definitely buy it.",
        "probably": "I'd probably buy it, if the price is right.",
        "not_sure": "I'm not sure yet.",
        "probably_not": "Probably not, to be honest.",
        "definitely_not": "I wouldn't buy it.",
    }[answers["purchase_intent"]]
    nps = answers["nps"]
    reaction = (
        "I like it, it feels made for someone like me."
        if nps >= 7
        else "It's fine, but I'm not sure it's for me."
        if nps >= 5
        else "Not really my thing, to be honest."
    )
    pairs = [
        (
            f'Thanks for joining, {persona.first_name}. Here is the concept for "{study_name}". '
            "What is your first reaction?",
            reaction,
        ),
        ("How likely would you be to buy it?", intent),
        (
            "What appeals to you about it?",
            f"Mostly the {_join(_labels(answers['appeal_drivers']))}.",
        ),
        ("What would you change about it?", answers["open_feedback"]),
        (
            "How likely are you to recommend it to a friend, from 0 to 10?",
            f"A {nps}. Overall I'd rate it {answers['overall_rating']} out of 5.",
        ),
    ]
    chosen = [pairs[0], *rng.sample(pairs[1:], rng.randint(1, 3))]
    chosen[1:] = sorted(chosen[1:], key=pairs.index)
    turns = [turn for pair in chosen for turn in (("interviewer", pair[0]), ("persona", pair[1]))]
    if len(turns) < 8 and rng.random() < 0.5:
        turns.append(("interviewer", f"Thank you, {persona.first_name}, that's everything."))
    return turns


def generate_task_content(
    seed: int, study_id: str, study_name: str, persona: Persona
) -> TaskContent:
    """The answers, transcript (4-8 turns) and scores of ``persona`` in study ``study_id``."""
    rng = rng_for(seed, "task", study_id, persona.id)
    score = 0.65 * persona.enthusiasm + 0.35 * rng.random()
    nps = min(max(round(score * 10), 0), 10)
    drivers = _drivers_for(persona, rng)
    answers: dict[str, Any] = {
        "nps": nps,
        "purchase_intent": _intent_for(nps, rng),
        "appeal_drivers": drivers,
        "open_feedback": _feedback(persona, nps >= 7, drivers, rng),
        "overall_rating": min(max(round(1 + score * 4 + rng.uniform(-0.6, 0.6)), 1), 5),
    }
    turns = _transcript(persona, study_name, answers, rng)
    cuts = sorted(rng.uniform(0.05, 0.95) for _ in range(len(turns) - 1))
    offsets = (*(round(c, 4) for c in cuts), 1.0)
    intent = dict(INTENT_OPTIONS)[answers["purchase_intent"]]
    summary = (
        f"{intent}; drawn by {_join(_labels(drivers))}. NPS {nps}, "
        f"rated {answers['overall_rating']}/5."
    )
    consistency = 1 - abs(nps / 10 - (answers["overall_rating"] - 1) / 4)
    values = {
        "coherence": rng.uniform(0.75, 0.98),
        "persona_fidelity": rng.uniform(0.6, 0.95),
        "answer_consistency": consistency,
        "engagement": min(1.0, 0.45 + 0.07 * len(turns) + rng.uniform(0, 0.1)),
    }
    rationales = {
        "coherence": "Answers follow from one another without contradiction.",
        "persona_fidelity": f"Voice matches a {persona.age}-year-old {persona.occupation.lower()}.",
        "answer_consistency": "NPS and overall rating point the same way."
        if consistency >= 0.75
        else "NPS and overall rating diverge.",
        "engagement": f"{len(turns)} turns with specific feedback.",
    }
    criteria = tuple(
        (key, name, round(values[key], 2), rationales[key]) for key, name in SCORE_CRITERIA
    )
    overall = round(sum(c[2] for c in criteria) / len(criteria), 2)
    return TaskContent(
        answers=answers,
        summary=summary,
        turns=tuple(turns),
        turn_offsets=offsets,
        overall=overall,
        criteria=criteria,
    )
