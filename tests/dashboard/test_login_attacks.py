"""Password guessing, cookie replay after logout, and the API docs behind the login,
against `agentwatch serve` bound to all interfaces (so the dashboard asks for a login)."""

from __future__ import annotations

import concurrent.futures
import secrets
import threading
from pathlib import Path

import httpx

from agentwatch.server.dashboard.throttle import FIRST_LOCKOUT, FREE_FAILURES
from agentwatch.server.testing import inprocess_server
from tests.server.serve_process import ServeProcess, serve

PASSWORD = "correct horse battery staple"


def form_token(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def local(running: ServeProcess) -> str:
    """The URL of a server bound to 0.0.0.0, reached over loopback."""
    return running.url.replace("://0.0.0.0:", "://127.0.0.1:")


def login(http: httpx.Client, password: str) -> httpx.Response:
    token = form_token(http.get("/login").text)
    return http.post("/login", data={"csrf": token, "password": password, "next": "/sessions"})


def test_guessing_is_throttled_and_health_keeps_answering(tmp_path: Path) -> None:
    env = {"AGENTWATCH_ADMIN_PASSWORD": PASSWORD}
    with serve(tmp_path, "--host", "0.0.0.0", env=env) as running:
        url = local(running)
        guessers = 16
        ready = threading.Barrier(guessers + 1)
        with httpx.Client(base_url=url, timeout=60) as http:
            form = http.get("/login")
            token, cookies = form_token(form.text), dict(http.cookies)

        def guess(n: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=60, cookies=cookies) as http:
                ready.wait(timeout=60)
                return http.post("/login", data={"csrf": token, "password": f"guess-{n}"})

        with concurrent.futures.ThreadPoolExecutor(guessers) as pool:
            answers = [pool.submit(guess, n) for n in range(guessers)]
            ready.wait(timeout=60)
            health: list[int] = []
            with httpx.Client(base_url=url, timeout=60) as http:
                while not all(a.done() for a in answers) or not health:
                    health.append(http.get("/health").status_code)
            results = [a.result() for a in answers]
        assert set(health) == {200}
        statuses = sorted(r.status_code for r in results)
        # Five scrypt checks, no more; every other guess is refused unread: by the throttle,
        # or already by the per-client limit on requests without credentials.
        assert statuses == [401] * FREE_FAILURES + [429] * (guessers - FREE_FAILURES)
        throttled = 0
        for refused in (r for r in results if r.status_code == 429):
            assert 1 <= int(refused.headers["Retry-After"]) <= FIRST_LOCKOUT
            throttled += "Too many failed logins from 127.0.0.1" in refused.text
            assert "Too many failed logins" in refused.text or "in flight" in refused.text
        assert throttled >= 1
        with httpx.Client(base_url=url, timeout=60) as http:
            # Locked out means locked out: the right password waits too.
            right = login(http, PASSWORD)
            assert right.status_code == 429
            assert "aw_login" not in right.headers.get("set-cookie", "")


def test_a_cookie_replayed_after_logout_is_refused_by_every_process(
    tmp_path: Path, db_url: str
) -> None:
    # Two server processes on one database (SQLite file, or one PostgreSQL database).
    env = {
        "AGENTWATCH_ADMIN_PASSWORD": PASSWORD,
        "AGENTWATCH_JWT_SECRET": secrets.token_urlsafe(48),
    }
    args = ("--host", "0.0.0.0", "--db", db_url)
    with (
        serve(tmp_path / "a", *args, env=env) as first,
        serve(tmp_path / "b", *args, env=env) as second,
        httpx.Client(base_url=local(first), timeout=30) as a,
        httpx.Client(base_url=local(second), timeout=30) as b,
    ):
        assert a.get("/sessions?format=json").status_code == 401
        assert login(a, PASSWORD).status_code == 303
        cookie = a.cookies["aw_login"]
        stolen = {"Cookie": f"aw_login={cookie}"}
        assert b.get("/sessions?format=json", headers=stolen).status_code == 200
        assert b.get("/docs", headers=stolen).status_code == 200

        page = a.get("/sessions")
        assert page.status_code == 200
        logout = a.post("/logout", data={"csrf": form_token(page.text)})
        assert logout.status_code == 303
        assert "aw_login" not in a.cookies

        for http in (a, b):
            replayed = http.get("/sessions?format=json", headers=stolen)
            assert replayed.status_code == 401
            assert replayed.json() == {
                "path": "/sessions",
                "message": "log in to the dashboard first (/login)",
            }
            assert http.get("/openapi.json", headers=stolen).status_code == 401
            assert http.get("/docs", headers=stolen).status_code == 303


def test_api_docs_are_behind_the_login() -> None:
    with (
        inprocess_server(host="0.0.0.0", admin_password=PASSWORD) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        for path in ("/docs", "/redoc"):
            answer = http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/login?next=%2F{path[1:]}"
        spec = http.get("/openapi.json")
        assert spec.status_code == 401
        assert spec.json()["path"] == "/openapi.json"
        assert "paths" not in spec.text
        assert login(http, PASSWORD).status_code == 303
        assert "/v2/create_events" in http.get("/openapi.json").json()["paths"]
        assert "swagger-ui" in http.get("/docs").text
        assert http.get("/redoc").status_code == 200
    with (
        inprocess_server() as server,  # loopback: no login, docs as before
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").status_code == 200


def test_the_drilldown_reads_are_behind_the_login() -> None:
    """The session page's tree, event, changes and compare reads answer nobody logged out,
    not even the project's own API key (that is what /api/... is for)."""
    from agentwatch.server.synthetic import send_run, synthetic_run

    with (
        inprocess_server(host="0.0.0.0", admin_password=PASSWORD) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        run = synthetic_run(12)
        session_id, _ = send_run(http, server.api_key, run)
        event_id = run.events[0]["id"]
        key = {"X-Agentops-Api-Key": server.api_key}
        cursor = http.get(f"/api/sessions/{session_id}/tree", headers=key).json()["cursor"]
        reads = (
            f"/sessions/{session_id}/tree",
            f"/sessions/{session_id}/events/{event_id}",
            f"/sessions/{session_id}/changes?cursor={cursor}",
        )
        for path in reads:
            for headers in ({}, key):
                answer = http.get(path, headers=headers)
                assert answer.status_code == 401, path
                assert "log in" in answer.json()["message"]
        compare = f"/compare?a={session_id}&b={session_id}"
        assert http.get(compare).status_code == 303
        assert login(http, PASSWORD).status_code == 303
        for path in reads:
            assert http.get(path).status_code == 200, path
        assert http.get(compare).status_code == 200
