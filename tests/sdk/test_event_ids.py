"""Event ids: time-ordered UUIDs (version 7) that never repeat.

The server keeps the first event of an id and ignores any other (idempotent retries),
so a repeated id would be an event lost without a trace.
"""

from __future__ import annotations

import os
import random
import time
import uuid
import warnings

from agentwatch import ActionEvent, LLMEvent


def _random_part(event_id: uuid.UUID | str) -> int:
    """The id's last 62 random bits (compared without the time, which may differ)."""
    return uuid.UUID(str(event_id)).int & ((1 << 62) - 1)


def test_ids_are_version_7_uuids_carrying_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    event = ActionEvent()
    after = time.time_ns() // 1_000_000
    assert isinstance(event.id, uuid.UUID)
    assert event.id.version == 7
    assert event.id.variant == uuid.RFC_4122
    assert before <= event.id.int >> 80 <= after


def test_ids_sort_in_creation_order_across_milliseconds() -> None:
    ids = []
    for _ in range(5):
        ids.append(LLMEvent().id)
        time.sleep(0.002)
    assert sorted(ids) == ids
    assert sorted(str(i) for i in ids) == [str(i) for i in ids]  # as text, as stored


def test_ids_are_unique_in_a_large_batch() -> None:
    ids = {ActionEvent().id for _ in range(200_000)}
    assert len(ids) == 200_000


def test_an_application_seeding_random_does_not_repeat_our_ids() -> None:
    random.seed(1234)
    first = [ActionEvent().id for _ in range(100)]
    random.seed(1234)
    second = [ActionEvent().id for _ in range(100)]
    assert not {_random_part(i) for i in first} & {_random_part(i) for i in second}


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a threaded process
        pid = os.fork()
    if pid == 0:
        child_ids = ",".join(str(ActionEvent().id) for _ in range(50))
        os.write(write, child_ids.encode())
        os._exit(0)
    os.close(write)
    parent_ids = {str(ActionEvent().id) for _ in range(50)}
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    child_ids = set(b"".join(chunks).decode().split(","))
    assert len(child_ids) == 50
    assert not {_random_part(i) for i in parent_ids} & {_random_part(i) for i in child_ids}
