"""A short simulated agent run, recorded through the public SDK (``agentwatch demo``).

A travel-planning agent with two agents, a few LLM calls, tool calls and actions, and
one tool failure that it handles and recovers from. No LLM is called: the completions
are written here, the token counts are realistic, and the server prices them.
"""

from __future__ import annotations

import time
from typing import Any

from agentwatch.client import Client
from agentwatch.decorators import record_action, record_tool, track_agent
from agentwatch.events import LLMEvent, now_iso
from agentwatch.session.session import Session

__all__ = ["run_demo_session"]

_PAUSE = 0.05  # seconds: enough for a readable timeline, short enough for a demo


def _llm(session: Session, model: str, user: str, answer: str, tokens: tuple[int, int]) -> str:
    started = now_iso()
    time.sleep(_PAUSE * 2)
    session.record(
        LLMEvent(
            init_timestamp=started,
            model=model,
            params={"temperature": 0.2, "max_tokens": 512},
            prompt=[
                {"role": "system", "content": "You are a careful travel planner."},
                {"role": "user", "content": user},
            ],
            completion={"role": "assistant", "content": answer},
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
        )
    )
    return answer


@record_tool("weather")
def _weather(city: str) -> dict[str, Any]:
    time.sleep(_PAUSE)
    return {"city": city, "forecast": "sunny", "high_c": 24}


@record_tool("flight_search")
def _flights(origin: str, destination: str, attempt: int) -> list[dict[str, Any]]:
    time.sleep(_PAUSE)
    if attempt == 1:
        raise TimeoutError(f"flight search for {origin}->{destination} timed out")
    return [{"flight": "AW123", "price_eur": 142}, {"flight": "AW456", "price_eur": 171}]


@track_agent("researcher")
class _Researcher:
    def __init__(self, session: Session) -> None:
        self.session = session

    @record_action("research")
    def research(self, city: str) -> dict[str, Any]:
        weather = _weather(city)
        summary = _llm(
            self.session,
            "gpt-4o-mini",
            f"Summarise the weather in {city}: {weather}",
            f"{city} will be sunny, around {weather['high_c']}°C.",
            (180, 24),
        )
        return {"weather": weather, "summary": summary}


@track_agent("planner")
class _Planner:
    def __init__(self, session: Session) -> None:
        self.session = session

    @record_action("book_flight")
    def book(self, origin: str, destination: str) -> dict[str, Any]:
        for attempt in (1, 2):
            try:
                options = _flights(origin, destination, attempt)
            except TimeoutError:
                continue  # handled: the decorator recorded the error; retry once
            return min(options, key=lambda o: int(o["price_eur"]))
        raise RuntimeError("no flights found")

    @record_action("plan_trip")
    def plan(self, destination: str, research: dict[str, Any]) -> str:
        return _llm(
            self.session,
            "claude-3-5-sonnet-20241022",
            f"Plan two days in {destination}. Context: {research['summary']}",
            "Day 1: old town and a river walk. Day 2: museums, then dinner by the water.",
            (420, 160),
        )


def run_demo_session(client: Client) -> Session:
    """Run the simulated agent in a new session, end it as ``Success`` and return it."""
    session = client.start_session(tags=["demo", "travel-agent"])
    researcher, planner = _Researcher(session), _Planner(session)
    research = researcher.research("Lisbon")
    planner.book("Oslo", "Lisbon")
    planner.plan("Lisbon", research)
    session.end_session("Success", "itinerary delivered")
    return session
