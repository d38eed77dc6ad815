"""A session is a tree: what nests under what, as stored by the real server (in-process).

Every assertion reads the session back from the server (``/api/sessions/{id}``) and
rebuilds the tree from the ``parent_id`` each stored event carries.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import agentwatch
from agentwatch import (
    ActionEvent,
    Client,
    EventKind,
    Session,
    ToolEvent,
    record_action,
    record_tool,
    track_agent,
)
from agentwatch.server.testing import TestServer


class Tree:
    """The stored events of a session, by id, with their children."""

    def __init__(self, server: TestServer, session: Session) -> None:
        if session.is_running:
            session.end_session("Success")
        self.events: list[dict[str, Any]] = server.session(session.session_id)["events"]
        self.by_id = {e["id"]: e for e in self.events}
        assert len(self.by_id) == len(self.events), "an event was stored twice"

    def one(self, **fields: Any) -> dict[str, Any]:
        [found] = [e for e in self.events if all(e.get(k) == v for k, v in fields.items())]
        return found

    def parent(self, event: dict[str, Any]) -> dict[str, Any] | None:
        parent_id = event.get("parent_id")
        if parent_id is None:
            return None
        assert parent_id in self.by_id, f"parent {parent_id} of {event['id']} was not stored"
        return self.by_id[parent_id]

    def children(self, event: dict[str, Any] | None) -> list[dict[str, Any]]:
        wanted = None if event is None else event["id"]
        return [e for e in self.events if e.get("parent_id") == wanted]

    def path(self, event: dict[str, Any]) -> list[str]:
        """Names from the root down to ``event``, as the SDK sent them (action_type, tool
        or agent name), else the event type."""
        names: list[str] = []
        node: dict[str, Any] | None = event
        while node is not None:
            sent = node["data"]
            names.append(str(sent.get("action_type") or sent.get("name") or node["event_type"]))
            node = self.parent(node)
        return names[::-1]


# -- decorators ---------------------------------------------------------------------------


@record_tool("lookup")
def lookup(city: str) -> str:
    agentwatch.record(ActionEvent(action_type="cache_miss", params={"city": city}))
    return f"{city}: 21 C"


@record_action("plan")
def plan(cities: list[str]) -> list[str]:
    return [lookup(city) for city in cities]


def test_nested_decorated_calls_make_a_tree(server: TestServer, client: Client) -> None:
    session = client.start_session()
    plan(["Rome", "Oslo"])
    lookup("Lima")  # outside plan: a child of the session
    tree = Tree(server, session)

    top = tree.one(action_type="plan")
    assert top.get("parent_id") is None
    assert sorted(e["params"]["city"] for e in tree.children(top)) == ["Oslo", "Rome"]
    for tool in tree.children(top):
        assert tool["event_type"] == "tools"
        [miss] = tree.children(tool)
        assert miss["action_type"] == "cache_miss"
        assert miss["params"] == tool["params"]
        # A parent starts before and ends after its children.
        assert top["init_timestamp"] <= tool["init_timestamp"] <= miss["init_timestamp"]
        assert miss["end_timestamp"] <= tool["end_timestamp"] <= top["end_timestamp"]
    lima = tree.one(event_type="tools", params={"city": "Lima"})
    assert tree.path(tree.children(lima)[0]) == ["lookup", "cache_miss"]
    assert {e["id"] for e in tree.children(None)} == {top["id"], lima["id"]}


@record_tool("fragile")
def fragile() -> None:
    raise KeyError("no such city")


def test_a_failed_call_has_its_error_under_it(server: TestServer, client: Client) -> None:
    session = client.start_session()

    @record_action("outer")
    def outer() -> None:
        with pytest.raises(KeyError):
            fragile()

    outer()
    tree = Tree(server, session)
    tool = tree.one(event_type="tools")
    error = tree.one(event_type="errors")
    assert tree.path(error) == ["outer", "fragile", "errors"]
    assert error["trigger_event_id"] == tool["id"]
    assert tool["data"]["status"] == "error"  # the span that raised
    assert "status" not in tree.one(action_type="outer")["data"]  # it caught the error


# -- agents -------------------------------------------------------------------------------


@track_agent("researcher")
class Researcher:
    def research(self, topic: str) -> str:
        return lookup(topic)

    async def research_async(self, topic: str) -> str:
        await asyncio.sleep(0)
        return lookup(topic)


def test_an_agents_events_nest_under_its_span(server: TestServer, client: Client) -> None:
    session = client.start_session()

    @record_action("hire")
    def hire() -> Researcher:
        return Researcher()

    researcher = hire()
    researcher.research("Rome")
    asyncio.run(researcher.research_async("Oslo"))
    tree = Tree(server, session)

    span = tree.one(event_type="agents")
    agent_id = researcher.agentwatch_agent_id  # type: ignore[attr-defined]
    assert span["id"] == str(researcher.agentwatch_span_id)  # type: ignore[attr-defined]
    assert (span["kind"], span["name"], span["agent_id"]) == ("agent", "researcher", agent_id)
    # The agent span nests where the agent was made; its methods' events under it.
    assert tree.path(span) == ["hire", "researcher"]
    tools = tree.children(span)
    assert sorted(t["params"]["city"] for t in tools) == ["Oslo", "Rome"]
    assert all(t["agent_id"] == agent_id for t in tools)
    assert all(tree.children(t)[0]["agent_id"] == agent_id for t in tools)
    assert span["init_timestamp"] <= min(t["init_timestamp"] for t in tools)
    assert span["end_timestamp"] >= max(t["end_timestamp"] for t in tools)
    assert [a["name"] for a in server.session(session.session_id)["agents"]] == ["researcher"]


def test_one_agent_in_two_sessions_has_its_span_in_each(server: TestServer, client: Client) -> None:
    researcher = Researcher()  # made before any session
    first = client.start_session()
    researcher.research("Rome")
    first.end_session("Success")
    second = client.start_session()
    researcher.research("Oslo")
    for session, city in ((first, "Rome"), (second, "Oslo")):
        tree = Tree(server, session)
        span = tree.one(event_type="agents")
        assert span.get("parent_id") is None
        [tool] = tree.children(span)
        assert tool["params"] == {"city": city}


# -- session.span() -------------------------------------------------------------------------


def test_span_blocks_nest_code_without_decorators(server: TestServer, client: Client) -> None:
    session = client.start_session()
    with session.span("retrieve", kind="retrieval") as retrieve:
        with session.span("embed", kind=EventKind.EMBEDDING):
            session.record(ToolEvent(name="vector_db"))
        with session.span("rerank", kind="llm") as rerank:
            rerank.model = "gpt-4o-mini"  # type: ignore[attr-defined]
        retrieve.returns = ["doc-1"]
    tree = Tree(server, session)

    root = tree.one(name="retrieve")
    assert (root["event_type"], root["kind"], root["returns"]) == (
        "actions",
        "retrieval",
        ["doc-1"],
    )
    embed, llm = sorted(tree.children(root), key=lambda e: e["name"])
    assert (embed["event_type"], embed["kind"]) == ("actions", "embedding")
    assert (llm["event_type"], llm["kind"], llm["model"]) == ("llms", "llm", "gpt-4o-mini")
    assert tree.path(tree.one(event_type="tools")) == ["retrieve", "embed", "vector_db"]


async def test_async_span_blocks_and_span_decorators(server: TestServer, client: Client) -> None:
    session = client.start_session()

    @session.span("fetch", kind="tool")
    async def fetch(url: str) -> int:
        await asyncio.sleep(0)
        return len(url)

    async with session.span("crawl", kind="chain"):
        assert await fetch("https://example.org") == 19
    await asyncio.to_thread(session.end_session, "Success")
    tree = Tree(server, session)
    crawl = tree.one(name="crawl")
    [tool] = tree.children(crawl)
    assert (tool["event_type"], tool["name"], tool["returns"]) == ("tools", "fetch", 19)
    assert tool["params"] == {"url": "https://example.org"}
    assert crawl["kind"] == "chain"


def test_a_failing_span_block_records_its_error_and_reraises(
    server: TestServer, client: Client
) -> None:
    session = client.start_session()
    with pytest.raises(TimeoutError), session.span("slow step"):
        raise TimeoutError("took too long")
    tree = Tree(server, session)
    error = tree.one(event_type="errors")
    assert tree.path(error) == ["slow step", "errors"]
    assert error["error_type"] == "TimeoutError"
    assert tree.parent(error) is not None
    assert tree.parent(error)["data"]["status"] == "error"  # type: ignore[index]


def test_module_level_span_uses_the_current_session(server: TestServer, client: Client) -> None:
    session = client.start_session()
    with agentwatch.span("step"):
        agentwatch.record(ActionEvent(action_type="inside"))
    agentwatch.record(ActionEvent(action_type="after"))
    tree = Tree(server, session)
    assert tree.path(tree.one(action_type="inside")) == ["step", "inside"]
    assert tree.path(tree.one(action_type="after")) == ["after"]


def test_an_unknown_kind_is_refused_where_the_span_is_made(client: Client) -> None:
    session = client.start_session()
    with pytest.raises(ValueError, match=r"kind='widget' is not valid; accepted: llm, tool"):
        session.span("x", kind="widget")
    with pytest.raises(ValueError, match="kind="):
        agentwatch.span("x", kind="")


# -- explicit parents ---------------------------------------------------------------------


def test_parent_picks_the_parent_explicitly(server: TestServer, client: Client) -> None:
    session = client.start_session()
    root = ActionEvent(action_type="root")
    session.record(root)
    with session.span("elsewhere"):
        session.record(ActionEvent(action_type="by_event"), parent=root)
        session.record(ActionEvent(action_type="by_id"), parent=str(root.id))
        session.record(ActionEvent(action_type="by_uuid"), parent=root.id)
        session.record(ActionEvent(action_type="by_field", parent_id=str(root.id)))
        agentwatch.record(ActionEvent(action_type="module_level"), parent=root)
    with session.span("adopted", parent=root):
        pass
    tree = Tree(server, session)
    for name in ("by_event", "by_id", "by_uuid", "by_field", "module_level", "adopted"):
        assert tree.path(tree.one(name=name)) == ["root", name], name
    with pytest.raises(TypeError, match="parent=42 is not valid"):
        session.record(ActionEvent(), parent=42)  # type: ignore[arg-type]


def test_an_open_span_of_another_session_is_not_a_parent(
    server: TestServer, client: Client
) -> None:
    first = client.start_session()
    second = client.start_session()
    with first.span("in first"):
        second.record(ActionEvent(action_type="into second"))
        first.record(ActionEvent(action_type="into first"))
    assert Tree(server, second).one(action_type="into second").get("parent_id") is None
    assert Tree(server, first).path(Tree(server, first).one(action_type="into first")) == [
        "in first",
        "into first",
    ]


def test_recording_a_spans_own_event_inside_it_makes_no_loop(
    server: TestServer, client: Client
) -> None:
    session = client.start_session()
    with session.span("self") as event:
        session.record(event)
    [stored] = Tree(server, session).events
    assert stored.get("parent_id") is None


# -- threads and tasks --------------------------------------------------------------------


async def test_tasks_inherit_the_span_they_were_created_in(
    server: TestServer, client: Client
) -> None:
    session = client.start_session()

    @record_tool("step")
    async def step(n: int) -> int:
        for i in range(3):
            agentwatch.record(ActionEvent(action_type="tick", params={"n": n, "i": i}))
            await asyncio.sleep(0)  # the other tasks run in between
        return n

    @record_action("fan_out")
    async def fan_out() -> list[int]:
        return list(await asyncio.gather(*(step(n) for n in range(4))))

    assert await fan_out() == [0, 1, 2, 3]
    await asyncio.to_thread(session.end_session, "Success")
    tree = Tree(server, session)
    root = tree.one(action_type="fan_out")
    steps = tree.children(root)
    assert sorted(s["params"]["n"] for s in steps) == [0, 1, 2, 3]
    for s in steps:
        ticks = tree.children(s)
        assert [t["params"] for t in ticks] == [{"n": s["params"]["n"], "i": i} for i in range(3)]


def test_threads_inherit_the_span_only_with_a_copied_context(
    server: TestServer, client: Client
) -> None:
    session = client.start_session()

    def work(label: str) -> None:
        session.record(ActionEvent(action_type=label))

    with session.span("parent"):
        copied = threading.Thread(target=contextvars.copy_context().run, args=(work, "copied"))
        plain = threading.Thread(target=work, args=("plain",))
        copied.start()
        plain.start()
        copied.join()
        plain.join()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(contextvars.copy_context().run, work, "pool_copied").result()
            pool.submit(work, "pool_plain").result()
    tree = Tree(server, session)
    for label in ("copied", "pool_copied"):
        assert tree.path(tree.one(action_type=label)) == ["parent", label]
    for label in ("plain", "pool_plain"):
        assert tree.one(action_type=label).get("parent_id") is None


def test_a_span_id_is_the_events_id_on_the_wire(server: TestServer, client: Client) -> None:
    session = client.start_session()
    outer = ActionEvent(action_type="outer")
    with session.span("block") as block:
        session.record(outer)
    tree = Tree(server, session)
    assert tree.one(action_type="outer")["parent_id"] == str(block.id)
    assert uuid.UUID(tree.one(name="block")["id"]) == block.id


def test_a_span_left_in_another_context_is_still_recorded_and_never_raises(
    server: TestServer, client: Client
) -> None:
    # As when the event loop finalizes an async generator: __exit__ runs elsewhere.
    session = client.start_session()
    block = session.span("moved")
    block.__enter__()
    contextvars.Context().run(block.__exit__, None, None, None)
    session.record(ActionEvent(action_type="after"))  # this context still has it open
    tree = Tree(server, session)
    assert tree.one(name="moved").get("parent_id") is None
    assert tree.path(tree.one(action_type="after")) == ["moved", "after"]
