"""Dashboard pages without a browser: JSON twins, sorting, CSRF, headers, login logic."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentwatch import Client, ErrorEvent, LLMEvent, ToolEvent
from agentwatch.server.dashboard.logins import LoginStore
from agentwatch.server.dashboard.security import (
    AdminAuth,
    hash_password,
    is_loopback,
    verify_password,
)
from agentwatch.server.routes.login import _safe_next
from agentwatch.server.storage import Storage
from agentwatch.server.testing import TestServer, inprocess_server


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with inprocess_server() as srv:
        client = Client(
            api_key=srv.api_key,
            endpoint=srv.url,
            handle_signals=False,
            transport=srv.transport,
            flush_interval=0.05,
        )
        for n in range(7):
            s = client.start_session(tags=["t", f"n{n}"])
            for _ in range(n % 3):
                s.record(ErrorEvent(error_type="E", details="x"))
            s.record(LLMEvent(model="gpt-4o", prompt="p", completion="c", prompt_tokens=100 * n))
            s.record(ToolEvent(name="tool"))
            s.end_session("Success" if n % 2 else "Fail")
        assert client.flush(timeout=10)
        client.shutdown(timeout=5)
        yield srv


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def api(http: httpx.Client, server: TestServer, path: str) -> Any:
    return http.get(path, headers={"X-Agentops-Api-Key": server.api_key}).json()


def test_json_twins_match_the_read_api(http: httpx.Client, server: TestServer) -> None:
    page = http.get("/sessions?format=json").json()
    assert page["sessions"] == api(http, server, "/api/sessions")["sessions"]
    sid = page["sessions"][0]["id"]
    assert http.get(f"/sessions/{sid}?format=json").json() == api(
        http, server, f"/api/sessions/{sid}"
    )


@pytest.mark.parametrize("sort", ["time", "duration", "cost", "errors"])
def test_sorted_keyset_pages_cover_every_session_once(http: httpx.Client, sort: str) -> None:
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = http.get(f"/sessions?format=json&sort={sort}&limit=2&cursor={cursor}").json()
        seen += page["sessions"]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert len({s["id"] for s in seen}) == len(seen) == 7
    key = {
        "time": lambda s: s["init_timestamp"],
        "duration": lambda s: s["duration_seconds"],
        "cost": lambda s: s["cost"] or 0,
        "errors": lambda s: s["counts"]["errors"],
    }[sort]
    values = [key(s) for s in seen]
    if sort == "duration":  # SQLite's date functions count whole milliseconds
        values = [round(v, 3) for v in values]
        assert all(a >= b - 0.0011 for a, b in itertools.pairwise(values))
    else:
        assert values == sorted(values, reverse=True)


def seed_small(server: TestServer) -> None:
    client = Client(
        api_key=server.api_key,
        endpoint=server.url,
        handle_signals=False,
        transport=server.transport,
        flush_interval=0.05,
    )
    for n in range(5):
        s = client.start_session(tags=["t"])
        s.record(LLMEvent(model="gpt-4o", prompt="p", completion="c", prompt_tokens=100 * n))
        for _ in range(n % 3):
            s.record(ErrorEvent(error_type="E", details="x"))
        if n != 4:  # one stays running
            s.end_session("Success" if n % 2 else "Fail")
    assert client.flush(timeout=10)
    client.shutdown(timeout=5)


def test_sorts_and_overview_on_each_database(db_url: str) -> None:
    with inprocess_server(db_url=db_url) as srv:
        seed_small(srv)
        with httpx.Client(base_url=srv.url, transport=srv.transport) as http:
            for sort in ("time", "duration", "cost", "errors"):
                first = http.get(f"/sessions?format=json&sort={sort}&limit=3").json()
                rest = http.get(
                    f"/sessions?format=json&sort={sort}&limit=3&cursor={first['next_cursor']}"
                ).json()
                ids = [s["id"] for s in first["sessions"] + rest["sessions"]]
                assert len(set(ids)) == 5, sort
            cost = http.get("/sessions?format=json&sort=cost").json()["sessions"]
            assert [s["cost"] for s in cost] == sorted((s["cost"] for s in cost), reverse=True)
            overview = http.get("/overview?format=json&days=2").json()
            assert overview["step"] == "hour"  # 48 hours
            assert len(overview["buckets"]) == 48
            assert sum(b["sessions"] for b in overview["buckets"]) == 5
            assert sum(b["end_states"]["Indeterminate"] for b in overview["buckets"]) == 1
            assert overview["models"][0]["calls"] == 5


def test_filters_and_bad_input(http: httpx.Client) -> None:
    fails = http.get("/sessions?format=json&end_state=Fail").json()["sessions"]
    assert len(fails) == 4
    assert {s["end_state"] for s in fails} == {"Fail"}
    assert len(http.get("/sessions?format=json&tag=n3").json()["sessions"]) == 1
    assert len(http.get("/sessions?format=json&tag=t,n3").json()["sessions"]) == 1
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert (
        len(http.get(f"/sessions?format=json&since={today}&until={today}").json()["sessions"]) == 7
    )
    assert http.get("/sessions?cursor=nonsense&sort=cost").status_code == 400
    assert http.get("/sessions?end_state=maybe").status_code == 400
    assert http.get("/sessions/not-a-uuid").status_code == 404
    assert http.get("/sessions/00000000-0000-4000-8000-000000000000").status_code == 404


def test_overview_json(http: httpx.Client) -> None:
    data = http.get("/overview?format=json&days=7").json()
    assert data["step"] == "day"
    assert len(data["buckets"]) == 7
    today = data["buckets"][-1]
    assert today["sessions"] == 7
    assert today["end_states"] == {"Success": 3, "Fail": 4, "Indeterminate": 0}
    assert today["error_rate"] == pytest.approx(4 / 7)
    assert today["duration_p50"] <= today["duration_p95"] <= today["duration_p99"]
    assert data["models"][0]["model"] == "gpt-4o"
    assert data["models"][0]["prompt_tokens"] == 2100


def test_security_headers(http: httpx.Client) -> None:
    for path in ("/sessions", "/projects", "/static/app.css", "/api/sessions"):
        response = http.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["referrer-policy"] == "same-origin"
    assert http.get("/sessions").headers["cache-control"] == "no-store"


def test_html_escapes_and_has_no_inline_script(http: httpx.Client) -> None:
    html = http.get("/sessions").text
    assert "<script>" not in html.replace('<script src="/static/common.js" defer></script>', "")
    assert "style=" not in html
    assert "onclick" not in html
    session_id = http.get("/sessions?format=json").json()["sessions"][0]["id"]
    page = http.get(f"/sessions/{session_id}").text
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == [
        '<script src="/static/common.js" defer>',
        '<script type="module" src="/static/session.js">',
    ]
    assert "style=" not in page


def test_a_session_whose_sdk_dropped_events_says_so(http: httpx.Client, server: TestServer) -> None:
    client = Client(
        api_key=server.api_key,
        endpoint=server.url,
        handle_signals=False,
        transport=server.transport,
        max_queue_size=1,  # the queued create_session fills it: every event is dropped
    )
    session = client.start_session()
    for _ in range(3):
        session.record(ToolEvent(name="tool"))
    session.end_session("Success", timeout=10)
    client.shutdown(timeout=5)
    html = http.get(f"/sessions/{session.session_id}").text
    assert (
        '<p class="dropped" id="dropped">3 events never reached the server '
        "(counted by the SDK: queue_full 3)</p>"
    ) in html
    others = http.get("/sessions?format=json").json()["sessions"]
    assert any(s["id"] != session.session_id and s["dropped_events"] == {} for s in others)
    other = next(s for s in others if s["id"] != session.session_id)
    assert '<p class="dropped" id="dropped" hidden>' in http.get(f"/sessions/{other['id']}").text


def form_token(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return html.split('name="csrf" value="')[1].split('"')[0]


def test_forms_need_the_csrf_token(http: httpx.Client, server: TestServer) -> None:
    assert http.post("/projects", data={"name": "nope"}).status_code == 403
    # Plain double submit would take any cookie equal to the field: a page on another
    # local port can plant such a cookie (cookies do not isolate ports). Refused.
    http.cookies.set("aw_csrf", "token-a")
    planted = http.post("/projects", data={"name": "nope", "csrf": "token-a"})
    assert planted.status_code == 403
    assert planted.json() == {
        "path": "/projects",
        "message": "the form's CSRF token is missing or stale: reload the page and retry",
    }
    assert server.storage.project_by_name("nope") is None
    token = form_token(http.get("/projects").text)  # signed for this browser's nonce
    made = http.post("/projects", data={"name": "yes", "csrf": token})
    assert made.status_code == 200
    assert server.storage.project_by_name("yes") is not None
    key = made.text.split('id="new-key" class="key">')[1].split("<")[0]
    assert server.storage.key_owner(key) is not None
    info = next(k for k in server.storage.list_api_keys() if k.prefix == key[:8])
    assert http.post(f"/keys/{info.id}/revoke").status_code == 403
    assert server.storage.key_owner(key) is not None
    http.cookies.set("aw_csrf", "another-nonce")  # the token was signed for token-a
    assert http.post(f"/keys/{info.id}/revoke", data={"csrf": token}).status_code == 403
    http.cookies.set("aw_csrf", "token-a")
    done = http.post(f"/keys/{info.id}/revoke", data={"csrf": token})
    assert done.status_code == 303
    assert server.storage.key_owner(key) is None
    assert http.post("/projects", data={"name": "yes", "csrf": token}).status_code == 400


def test_pages_set_a_strict_csrf_cookie(http: httpx.Client) -> None:
    http.cookies.clear()
    cookie = http.get("/projects").headers["set-cookie"]
    assert "aw_csrf=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


@pytest.fixture
def logins(tmp_path: Path) -> Iterator[LoginStore]:
    storage = Storage.open(f"sqlite:///{tmp_path / 'logins.db'}")
    yield LoginStore(storage)
    storage.close()


def test_login_cookie_is_signed_expires_and_ends_at_logout(logins: LoginStore) -> None:
    auth = AdminAuth(True, hash_password("pw"), "s" * 40, logins)
    now = time.time()
    cookie = auth.start_login(now=now)
    assert auth.logged_in(cookie)
    token, expires, signature = cookie.split(".")
    assert auth.signed_token(cookie, now=now + 8 * 24 * 3600) is None  # expired
    assert not auth.logged_in(f"{token}.{int(expires) + 999}.{signature}")
    assert not auth.logged_in(f"{token[:-2]}xx.{expires}.{signature}")
    assert not auth.logged_in(None)
    assert not auth.logged_in("garbage")
    assert not AdminAuth(True, None, "t" * 40, logins).logged_in(cookie)  # another secret
    other = auth.start_login()
    auth.end_login(cookie)
    assert not auth.logged_in(cookie)  # the very same cookie, replayed: the login is gone
    assert auth.logged_in(other)  # only that login ended
    assert auth.check_password("pw")
    assert not auth.check_password("PW")
    with pytest.raises(ValueError, match="LoginStore"):
        AdminAuth(True, None, "s" * 40)


def test_csrf_tokens_are_bound_to_nonce_and_login(logins: LoginStore) -> None:
    auth = AdminAuth(True, hash_password("pw"), "s" * 40, logins)
    cookie = auth.start_login()
    anonymous = auth.csrf_token("nonce", None)
    assert auth.csrf_ok("nonce", None, anonymous)
    assert not auth.csrf_ok("nonce", cookie, anonymous)  # a login form's token, after login
    bound = auth.csrf_token("nonce", cookie)
    assert auth.csrf_ok("nonce", cookie, bound)
    assert not auth.csrf_ok("other", cookie, bound)
    assert not auth.csrf_ok("nonce", auth.start_login(), bound)  # another login's
    assert not auth.csrf_ok("nonce", cookie, "nonce")  # double submit of the nonce itself
    assert not auth.csrf_ok(None, None, None)


def test_passwords_are_stored_as_scrypt() -> None:
    stored = hash_password("hunter2")
    assert stored.startswith("scrypt$")
    assert "hunter2" not in stored
    assert verify_password(stored, "hunter2")
    assert not verify_password(stored, "hunter3")
    assert not verify_password("plain", "plain")


def test_first_public_start_prints_a_password_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], logins: LoginStore
) -> None:
    auth = AdminAuth.create("0.0.0.0", tmp_path, None, "s" * 40, logins)
    printed = capsys.readouterr().err
    password = printed.split("(shown once): ")[1].split()[0]
    assert auth.required
    assert auth.check_password(password)
    assert (tmp_path / "admin_password").stat().st_mode & 0o777 == 0o600
    assert password not in (tmp_path / "admin_password").read_text()
    again = AdminAuth.create("0.0.0.0", tmp_path, None, "s" * 40, logins)
    assert capsys.readouterr().err == ""
    assert again.check_password(password)
    assert not AdminAuth.create("127.0.0.1", tmp_path, None, "s" * 40, logins).required
    env = AdminAuth.create("10.0.0.5", tmp_path, "from-env", "s" * 40, logins)
    assert env.check_password("from-env")
    assert not env.check_password(password)


def test_loopback_and_redirect_targets() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("10.1.2.3")
    assert is_loopback("127.8.9.10")
    assert is_loopback("[::1]")
    assert is_loopback("::ffff:127.0.0.1")
    assert is_loopback("LOCALHOST.")
    assert not is_loopback("127.evil.example")  # a name, not an address
    assert not is_loopback("localhost.evil.example")
    assert not is_loopback("")
    assert _safe_next("/sessions?tag=a") == "/sessions?tag=a"
    for bad in ("//evil.example", "https://evil.example", "/\\evil", None, "javascript:x"):
        assert _safe_next(bad) == "/sessions"


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/sessions?limit=100000", 400, "limit"),
        ("/sessions?cursor=nonsense&sort=cost", 400, "cursor"),
        ("/sessions?end_state=maybe", 400, "end_state"),
        ("/overview?tz=%3Cscript%3E", 400, "tz"),
        ("/no-such-page", 404, "Not Found"),
    ],
)
def test_a_browser_gets_errors_as_pages(
    http: httpx.Client, path: str, status: int, named: str
) -> None:
    """Bad input on a dashboard page is a page saying what was wrong (escaped, under the
    CSP), not a JSON body; the JSON twin and API clients keep the JSON error."""
    page = http.get(path, headers=BROWSER)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert named in page.text
    assert 'id="error-message"' in page.text
    assert "<script>" not in page.text.lower().replace("<script src=", "")
    assert "content-security-policy" in page.headers
    as_api = http.get(path)  # httpx asks for */*: a client of the JSON
    assert as_api.status_code == status
    assert named in as_api.json()["message"]
    twin = http.get(path + ("&" if "?" in path else "?") + "format=json", headers=BROWSER)
    assert twin.headers["content-type"].startswith("application/json")


def test_api_errors_stay_json_for_a_browser(http: httpx.Client) -> None:
    answer = http.get("/api/sessions?limit=100000", headers=BROWSER)  # and no API key
    assert answer.status_code == 401
    assert "API key" in answer.json()["message"]
