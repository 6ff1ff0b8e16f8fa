"""HTTP triggers on the development host: route templates, methods, auth levels, bad input, failures."""

from __future__ import annotations

import asyncio
import logging

import pytest

from devhost_support import CORS_ORIGIN, KEYED_FUNCTION_KEY
from dev.host.routing import RouteTemplateError, compile_route, sort_by_precedence


# ------------------------------------------------------------------ route templates


@pytest.mark.parametrize("template, path, expected", [
    ("items/{id:int}", "items/42", {"id": "42"}),
    ("items/{id:int}", "items/4x", None),
    ("items/{id:int}", "items/99999999999", None),
    ("hello/{name?}", "hello", {}),
    ("hello/{name?}", "hello/dana", {"name": "dana"}),
    ("Hello/{name}", "HELLO/Dana", {"name": "Dana"}),
    ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
    ("files/{*path}", "files", {}),
    ("docs/{page=intro}", "docs", {"page": "intro"}),
    ("code/{c:alpha:length(3)}", "code/abc", {"c": "abc"}),
    ("code/{c:alpha:length(3)}", "code/abcd", None),
    ("ids/{id:guid}", "ids/6f9619ff-8b86-d011-b42d-00cf4fc964ff", {"id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"}),
    ("n/{v:range(1,10)}", "n/11", None),
    ("zip/{z:regex(^\\d{{5}}$)}", "zip/94105", {"z": "94105"}),
    ("zip/{z:regex(^\\d{{5}}$)}", "zip/9410", None),
    ("pics/{name}.{ext}", "pics/cat.png", {"name": "cat", "ext": "png"}),
    ("items/{id}", "items/a%20b", {"id": "a b"}),
    ("items/{id}", "items/1/extra", None),
])
def test_route_templates_match_like_aspnet(template, path, expected):
    assert compile_route(template).match(path) == expected


@pytest.mark.parametrize("template", ["a/{*rest}/b", "a/{x?}/b", "a/{x}{y}", "a/{x:nosuch}", "a/{x}/{X}", "a/{"])
def test_invalid_route_templates_are_refused(template):
    with pytest.raises(RouteTemplateError):
        compile_route(template)


def test_literal_routes_win_over_parameters_and_catch_alls():
    routes = [(compile_route(t), t) for t in ["items/{*rest}", "items/{id}", "items/{id:int}", "items/new"]]
    assert [t for _, t in sort_by_precedence(routes)] == ["items/new", "items/{id:int}", "items/{id}", "items/{*rest}"]


# ------------------------------------------------------------------ serving triggers


async def test_optional_parameter_and_text_response(host, http):
    assert (await http.get(host.url("hello"))).text == "hello world"
    reply = await http.get(host.url("hello/dana"))
    assert (reply.status_code, reply.text) == (200, "hello dana")
    assert reply.headers["content-type"].startswith("text/plain")


async def test_request_details_reach_the_function(host, http):
    reply = await http.put(host.url("items/42"), params={"q": "pipes", "code": host.function_key()},
                           headers={"x-test": "yes"}, content=b"raw body")
    assert reply.status_code == 200
    assert reply.json() == {"by": "id", "id": "42", "method": "PUT", "query": {"q": "pipes", "code": host.function_key()},
                            "header": "yes", "body": "raw body"}


async def test_typed_parameters_pick_the_right_function(host, http):
    by_id = await http.get(host.url("items/7"), headers={"x-functions-key": host.function_key()})
    by_name = await http.get(host.url("items/boiler"))
    neither = await http.get(host.url("items/4.5"))
    assert by_id.json()["by"] == "id" and by_name.json() == {"by": "name", "name": "boiler"}
    assert neither.status_code == 404


async def test_catch_all_route(host, http):
    assert (await http.get(host.url("files/2026/invoices/a.pdf"))).json() == {"path": "2026/invoices/a.pdf"}


async def test_unknown_route_is_404_with_the_error_shape(host, http):
    reply = await http.get(host.url("no/such/route"))
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
    assert (await http.get(f"{host.base_url}/elsewhere")).status_code == 404


async def test_wrong_method_is_405_with_allow(host, http):
    reply = await http.delete(host.url("items/42"), params={"code": host.function_key()})
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET, PUT"
    assert (await http.post(host.url("hello"))).headers["allow"] == "GET"


# ------------------------------------------------------------------ auth levels


async def test_function_level_needs_a_key(host, http):
    missing = await http.get(host.url("items/1"))
    wrong = await http.get(host.url("items/1"), params={"code": "not-a-key"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert (await http.get(host.url("items/1"), params={"code": host.function_key()})).status_code == 200
    assert (await http.get(host.url("items/1"), headers={"x-functions-key": host.master_key})).status_code == 200


async def test_function_keys_only_open_their_own_function(host, http):
    assert (await http.get(host.url("keyed"), params={"code": KEYED_FUNCTION_KEY})).text == "keyed ok"
    assert host.function_key("keyed") == KEYED_FUNCTION_KEY
    assert (await http.get(host.url("items/1"), params={"code": KEYED_FUNCTION_KEY})).status_code == 401


async def test_admin_level_needs_the_master_key(host, http):
    assert (await http.get(host.url("secret"), params={"code": host.function_key()})).status_code == 401
    assert (await http.get(host.url("secret"), params={"code": host.master_key})).text == "admins only"


# ------------------------------------------------------------------ failures and bad input


async def test_a_raising_function_answers_500_without_a_stack_trace(host, http, caplog):
    caplog.set_level(logging.ERROR, logger="frontdesk.dev.host")
    reply = await http.get(host.url("boom"))
    assert reply.status_code == 500
    error = reply.json()["error"]
    correlation = error["details"][0]["correlationId"]
    assert correlation in error["message"]
    assert "kaboom" not in reply.text and "Traceback" not in reply.text and "secret.py" not in reply.text
    logged = [r for r in caplog.records if correlation in r.getMessage()]
    assert logged and "kaboom" in (logged[0].exc_text or "")
    assert (await http.get(host.url("hello"))).status_code == 200


async def test_malformed_json_does_not_crash_the_host(host, http):
    unguarded = await http.post(host.url("echo"), content=b"{not json", headers={"content-type": "application/json"})
    guarded = await http.post(host.url("parse"), content=b"{not json", headers={"content-type": "application/json"})
    assert unguarded.status_code == 500 and unguarded.json()["error"]["code"] == "internal_error"
    assert guarded.status_code == 400 and guarded.json()["error"]["code"] == "malformed_json"
    assert (await http.post(host.url("echo"), json={"fine": True})).json() == {"got": {"fine": True}}


async def test_concurrent_requests_are_served_side_by_side(host, http):
    replies = await asyncio.gather(*(http.get(host.url(f"hello/n{i}")) for i in range(20)))
    assert [r.text for r in replies] == [f"hello n{i}" for i in range(20)]


async def test_cors_preflight_and_allowed_origin(host, http):
    preflight = await http.options(host.url("hello"), headers={
        "Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-test"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert preflight.headers["access-control-allow-headers"] == "x-test"
    allowed = await http.get(host.url("hello"), headers={"Origin": CORS_ORIGIN})
    other = await http.get(host.url("hello"), headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "access-control-allow-origin" not in other.headers


# ------------------------------------------------------------------ admin API


async def test_admin_route_runs_a_timer_function(host, http):
    from devhost_sample import TICKS
    before = len(TICKS)
    reply = await http.post(f"{host.base_url}/admin/functions/nightly", json={},
                            headers={"x-functions-key": host.master_key})
    assert reply.status_code == 202
    for _ in range(100):
        if len(TICKS) > before:
            break
        await asyncio.sleep(0.02)
    assert TICKS[before:] == [{"past_due": False}]
    host.invoke("nightly")
    assert TICKS[-1] == {"past_due": False} and len(TICKS) == before + 2


async def test_admin_api_refuses_without_the_master_key_and_knows_its_functions(host, http):
    url = f"{host.base_url}/admin/functions/nightly"
    assert (await http.post(url, params={"code": host.function_key()})).status_code == 401
    assert (await http.post(f"{host.base_url}/admin/functions/nope", params={"code": host.master_key})).status_code == 404
    assert (await http.post(f"{host.base_url}/admin/functions/hello",
                            params={"code": host.master_key})).status_code == 400
    listing = (await http.get(f"{host.base_url}/admin/functions", params={"code": host.master_key})).json()
    by_name = {f["name"]: f for f in listing}
    assert by_name["item_by_id"] == {"name": "item_by_id", "type": "httpTrigger", "route": "items/{id:int}",
                                     "methods": ["GET", "PUT"], "authLevel": "function"}
    assert by_name["sequence"]["type"] == "orchestrationTrigger" and by_name["nightly"]["type"] == "timerTrigger"
