"""Every client page and form in process: sign in, see and claim aid, receipts, sign out, languages,
and every way a form can go wrong (none of them a server error)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.gateway import Gateway
from api.i18n import (
    LANGUAGES,
    PROBLEMS,
    direction,
    language_name,
    locked_text,
    translate,
    wrong_pin_text,
)
from ledger.exceptions import LedgerError
from tests.pages._scenario import PROGRAM_NAME, Scenario, auth, open_claims, register
from tests.pages.conftest import csrf_of, sign_in

SESSION = "__Host-allmende-session"


def text_of(html: str) -> str:
    """The page's visible words, tags removed and whitespace folded (for assertions on messages)."""
    without_tags = re.sub(r"<[^>]+>", " ", html).replace("&#34;", '"').replace("&#39;", "'")
    return re.sub(r"[ \t\r\n]+", " ", without_tags).strip()  # keeps the no-break space in amounts


def set_cookie_headers(response: object) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name."""
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


# --- sign-in ---------------------------------------------------------------------------------


def test_the_front_door_leads_to_the_sign_in_page_in_german(client: TestClient) -> None:
    r = client.get("/")
    assert (r.status_code, r.headers["location"]) == (303, "/client/")
    r = client.get("/client/")
    assert (r.status_code, r.headers["location"]) == (303, "/client/sign-in")
    r = client.get("/client/sign-in")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="de" dir="ltr">' in r.text
    assert "Gutschein-Code" in r.text and 'type="password"' in r.text and 'inputmode="numeric"' in r.text
    assert '<label for="code">' in r.text and '<label for="pin">' in r.text
    assert "<script" not in r.text  # no JavaScript at all


def test_the_sign_in_page_speaks_the_language_the_browser_prefers(client: TestClient) -> None:
    r = client.get("/client/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert '<html lang="en"' in r.text and "Voucher code" in r.text
    r = client.get("/client/sign-in", headers={"Accept-Language": "fr-FR, tr;q=0.8"})
    assert '<html lang="tr" dir="ltr"' in r.text and "Kupon kodu" in r.text
    r = client.get("/client/sign-in", headers={"Accept-Language": "fa-IR"})
    assert '<html lang="fa" dir="rtl"' in r.text
    r = client.get("/client/sign-in", headers={"Accept-Language": "fr-FR, it;q=0.8"})
    assert '<html lang="de"' in r.text  # nothing we speak: German


def test_the_language_switch_is_remembered_and_goes_back_to_the_page(client: TestClient) -> None:
    page = client.get("/client/sign-in")
    assert 'href="/client/language/en?next=/client/sign-in"' in page.text and 'lang="en"' in page.text
    r = client.get("/client/language/en", params={"next": "/client/sign-in"})
    assert (r.status_code, r.headers["location"]) == (303, "/client/sign-in")
    assert "allmende-lang=en" in r.headers["set-cookie"]
    page = client.get("/client/sign-in", headers={"Accept-Language": "de"})
    assert '<html lang="en"' in page.text and "Sign in" in page.text  # the switch beats the browser
    client.get("/client/language/de", params={"next": "/client/sign-in"})
    assert '<html lang="de"' in client.get("/client/sign-in").text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_offers_every_language_in_its_own_name_and_writes_in_the_chosen_one(
    client: TestClient, lang: str
) -> None:
    client.get(f"/client/language/{lang}", params={"next": "/client/sign-in"})
    for path, heading in (("/client/sign-in", "Sign in"), ("/client/nowhere", "Page not found")):
        r = client.get(path)
        assert f"<h1>{translate(lang, heading)}</h1>" in r.text
        assert f'<html lang="{lang}" dir="{direction(lang)}">' in r.text
        assert r.headers["content-language"] == lang
        for other in LANGUAGES:
            if other != lang:
                link = f'href="/client/language/{other}?next={path}" hreflang="{other}" lang="{other}"'
                assert link in r.text
                assert f">{language_name(other)}</a>" in r.text
        assert f'<span aria-current="true" lang="{lang}">{language_name(lang)}</span>' in r.text


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "/v1/me", "/client/x?y=1", None]
)
def test_the_language_switch_never_leaves_the_client_pages(client: TestClient, target: str | None) -> None:
    r = client.get("/client/language/en", params={"next": target} if target else {})
    assert r.status_code == 303 and r.headers["location"] == "/client/"


def test_an_unknown_language_is_a_page_not_found(client: TestClient) -> None:
    r = client.get("/client/language/xx")
    assert r.status_code == 404 and "Seite nicht gefunden" in r.text


def test_sign_in_sets_a_strict_http_only_secure_session_cookie(
    client: TestClient, scenario: Scenario
) -> None:
    token = csrf_of(client.get("/client/sign-in").text)
    r = client.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin, "csrf": token})
    assert (r.status_code, r.headers["location"]) == (303, "/client/")
    cookie = SimpleCookie(set_cookie_headers(r)[SESSION])[SESSION]
    assert cookie.value.startswith("cls_")
    assert (
        cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "strict" and cookie["path"] == "/"
    )
    assert not cookie["domain"]
    home = client.get("/client/")
    assert home.status_code == 200 and PROGRAM_NAME in home.text


def test_on_localhost_over_http_the_cookie_is_not_secure(gateway: Gateway, scenario: Scenario) -> None:
    app = create_app(gateway.settings, gateway)
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as local:
        token = csrf_of(local.get("/client/sign-in").text)
        r = local.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin, "csrf": token})
        assert r.status_code == 303
        header = set_cookie_headers(r)["allmende-session"]
        assert "HttpOnly" in header and "SameSite=strict" in header and "Secure" not in header
        assert local.get("/client/").status_code == 200


def test_a_plain_http_page_on_another_host_warns_that_sign_in_needs_https(gateway: Gateway) -> None:
    app = create_app(gateway.settings, gateway)
    with TestClient(app, base_url="http://aid.example.org", follow_redirects=False) as remote:
        r = remote.get("/client/sign-in")
        assert translate(
            "de",
            "This connection is not encrypted, so signing in is not possible. "
            "Please tell your advice centre.",
        ) in text_of(r.text)
        assert "Secure" in r.headers["set-cookie"]


def test_a_voucher_from_a_qr_code_fills_in_the_code(client: TestClient, scenario: Scenario) -> None:
    r = client.get("/client/sign-in", params={"voucher": scenario.voucher.replace("-", "").lower()})
    assert f'value="{scenario.voucher}"' in r.text
    r = client.get("/client/sign-in", params={"voucher": "<script>alert(1)</script>"})
    assert (
        r.status_code == 200
        and "<script>" not in r.text
        and 'id="code" name="code" type="text" value=""' in r.text
    )


def test_wrong_pin_and_unknown_code_get_the_same_kind_message(client: TestClient, scenario: Scenario) -> None:
    unknown = "2345-6789-ABCD-EFG"
    unknown += next(c for c in "23456789ABCDEFGHJKMNPQRSTUVWXYZ" if _valid(unknown + c))
    answers = []
    for code, pin in ((scenario.voucher, "11111"), (unknown, "11111")):
        token = csrf_of(client.get("/client/sign-in").text)
        r = client.post("/client/sign-in", data={"code": code, "pin": pin, "csrf": token})
        answers.append((r.status_code, text_of(r.text).replace(code, "CODE")))
        assert wrong_pin_text("de", 4) in text_of(r.text)
        assert SESSION not in set_cookie_headers(r)
        assert pin not in r.text  # the PIN is never shown again
    assert answers[0] == answers[1] and answers[0][0] == 400


def _valid(code: str) -> bool:
    from governance.vouchers import parse_code

    try:
        parse_code(code)
    except Exception:
        return False
    return True


def test_lockout_shows_the_same_kind_message_for_known_and_unknown_codes(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    unknown = "3456-789A-BCDE-FGH"
    unknown += next(c for c in "23456789ABCDEFGHJKMNPQRSTUVWXYZ" if _valid(unknown + c))
    locked = []
    for code in (scenario.voucher, unknown):
        for _ in range(gateway.settings.pin_attempts + 1):
            token = csrf_of(client.get("/client/sign-in").text)
            r = client.post("/client/sign-in", data={"code": code, "pin": "99999", "csrf": token})
        locked.append(r)
    for r in locked:
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        minutes = -(-gateway.settings.lockout_s // 60)
        assert locked_text("de", minutes) in text_of(r.text)
    # even the right PIN waits until the lock is over
    token = csrf_of(client.get("/client/sign-in").text)
    r = client.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin, "csrf": token})
    assert r.status_code == 429


@pytest.mark.parametrize(
    ("code", "pin", "messages"),
    [
        (
            "",
            "",
            [
                "Please enter the code from your voucher.",
                "The PIN has 4 to 8 digits. Please enter digits only.",
            ],
        ),
        (
            "ABCD-EFGH-JKMN-PQRS",
            "1234",
            ["The code seems to have a typing mistake. Please compare each character with your voucher."],
        ),  # check symbol wrong
        (
            "ABCD",
            "1234",
            ["The code seems to have a typing mistake. Please compare each character with your voucher."],
        ),
        (
            "X" * 500,
            "1234",
            ["The code seems to have a typing mistake. Please compare each character with your voucher."],
        ),
        (
            "2345-6789-ABCD-EFGH\x00",
            "12a4",
            [
                "The code seems to have a typing mistake. Please compare each character with your voucher.",
                "The PIN has 4 to 8 digits. Please enter digits only.",
            ],
        ),
        (
            None,
            "١٢٣٤",
            [
                "Please enter the code from your voucher.",
                "The PIN has 4 to 8 digits. Please enter digits only.",
            ],
        ),  # Arabic-Indic digits, no code field
    ],
)
def test_malformed_sign_ins_are_explained_field_by_field(
    client: TestClient, code: str | None, pin: str, messages: list[str]
) -> None:
    token = csrf_of(client.get("/client/sign-in").text)
    data = {"pin": pin, "csrf": token} | ({"code": code} if code is not None else {})
    r = client.post("/client/sign-in", data=data)
    assert r.status_code == 400
    words = text_of(r.text)
    for key in messages:
        assert translate("de", key) in words
    assert 'aria-invalid="true"' in r.text and 'role="alert"' in r.text


def test_a_sign_in_without_the_form_token_is_refused(client: TestClient, scenario: Scenario) -> None:
    r = client.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin})
    assert r.status_code == 403 and translate(
        "de", "The page was open for too long. Please try again."
    ) in text_of(r.text)
    client.get("/client/sign-in")  # a real pre-session cookie, but a token made for another one
    r = client.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin, "csrf": "x" * 64})
    assert r.status_code == 403 and SESSION not in set_cookie_headers(r)
    fresh = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    stolen = csrf_of(client.get("/client/sign-in").text)  # a token without its cookie
    r = fresh.post("/client/sign-in", data={"code": scenario.voucher, "pin": scenario.pin, "csrf": stolen})
    assert r.status_code == 403


def test_odd_bodies_on_the_sign_in_form_are_pages_not_errors(client: TestClient) -> None:
    for kwargs in (
        {"content": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"json": {"code": "x", "pin": "1"}},
        {"files": {"code": ("a.txt", b"2345")}},
    ):
        r = client.post("/client/sign-in", **kwargs)  # type: ignore[arg-type]
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("text/html"), kwargs


# --- signed in -------------------------------------------------------------------------------


def test_a_client_sees_claims_and_gets_a_receipt_with_the_transaction(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    home = client.get("/client/")
    words = text_of(home.text)
    assert PROGRAM_NAME in words and "40,00\u00a0€" in home.text
    assert "40,00\u00a0€ jetzt abholen" in home.text
    assert 'aria-current="page"' in home.text and home.headers["cache-control"] == "no-store"
    token = csrf_of(home.text)
    r = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": token})
    assert (r.status_code, r.headers["location"]) == (303, f"/client/?claimed={scenario.claim_program_id}")
    done = client.get(r.headers["location"])
    assert translate("de", "Done: %(amount)s has been credited to you.", amount="40,00\u00a0€") in done.text
    assert "jetzt abholen" not in done.text
    assert translate("de", "You received %(amount)s.", amount="40,00\u00a0€") in text_of(done.text)
    receipts = client.get("/client/receipts")
    assert receipts.status_code == 200
    hashes = re.findall(r"0x[0-9a-f]{64}", receipts.text)
    claimed = [e for e in gateway.index.events() if e.name == "Claimed"]
    assert hashes == [claimed[-1].transaction_hash]
    assert f"Hilfe: {PROGRAM_NAME}" in text_of(receipts.text) and "Zusammen erhalten: 40,00" in receipts.text
    # what the JSON API says about the same claim
    api_token = client.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    ent = client.get("/v1/client/entitlements", headers=auth(api_token.json()["token"])).json()
    assert ent == [{"claimProgramId": scenario.claim_program_id, "amount": "40.000000", "claimed": True}]


def test_claiming_twice_says_kindly_that_it_was_received_already(
    client: TestClient, scenario: Scenario
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    token = csrf_of(client.get("/client/").text)
    assert client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": token}).status_code == 303
    again = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": token})
    assert again.status_code == 409
    assert translate("de", PROBLEMS["ClaimProgramAlreadyClaimed"]) in text_of(again.text)


def test_claims_of_others_and_odd_ids_are_refused_as_pages(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    other = register(client, scenario.ngo_key, "Somebody Else")
    theirs = open_claims(client, scenario.ngo_key, scenario.program_id, [(other["clientId"], "5")])
    sign_in(client, scenario.voucher, scenario.pin)
    token = csrf_of(client.get("/client/").text)
    r = client.post(f"/client/claims/{theirs}", data={"csrf": token})
    assert r.status_code == 404 and translate("de", PROBLEMS["NoEntitlement"]) in text_of(r.text)
    for odd in ("0", "-1", "abc", str(2**48), str(2**70), "1.5"):
        r = client.post(f"/client/claims/{odd}", data={"csrf": token})
        assert r.status_code in (400, 404) and r.headers["content-type"].startswith("text/html"), odd


def test_a_claim_without_the_session_token_is_refused(client: TestClient, scenario: Scenario) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    for data in ({}, {"csrf": "forged"}):
        r = client.post(f"/client/claims/{scenario.claim_program_id}", data=data)
        assert r.status_code == 403 and translate(
            "de", "The page was open for too long. Please try again."
        ) in text_of(r.text)
    assert "jetzt abholen" in client.get("/client/").text  # nothing was claimed


def test_a_token_from_another_session_does_not_claim(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    theirs = csrf_of(client.get("/client/").text)
    with TestClient(client.app, base_url="https://testserver", follow_redirects=False) as second:
        sign_in(second, scenario.voucher, scenario.pin)
        r = second.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": theirs})
        assert r.status_code == 403


def test_an_expired_claim_shows_no_button_and_a_late_claim_is_explained(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    token = csrf_of(client.get("/client/").text)
    gateway.advance_time(31 * 86_400)  # the gateway signs by the new time too
    home = client.get("/client/")
    assert "Frist abgelaufen" in home.text and "jetzt abholen" not in home.text
    r = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": token})
    assert r.status_code == 409 and translate("de", PROBLEMS["ClaimProgramExpired"]) in text_of(r.text)


def test_a_ledger_that_does_not_answer_gives_a_try_again_page(
    client: TestClient, scenario: Scenario, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    token = csrf_of(client.get("/client/").text)

    def down(*args: object, **kwargs: object) -> None:
        raise LedgerError("the node is gone")

    monkeypatch.setattr(type(gateway.claims), "claim", down)
    r = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": token})
    assert r.status_code == 503 and translate("de", PROBLEMS["Unavailable"]) in text_of(r.text)
    monkeypatch.setattr(type(gateway.chain), "now", down)  # even reading the page fails now
    r = client.get("/client/")
    assert r.status_code == 503 and translate("de", PROBLEMS["Unavailable"]) in text_of(r.text)


def test_an_unexpected_error_is_a_kind_page_and_logs_no_input(
    client: TestClient,
    scenario: Scenario,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)

    def bug(*args: object, **kwargs: object) -> None:
        raise ValueError(f"a bug that quotes {scenario.voucher}")

    monkeypatch.setattr(type(gateway.claims), "entitlements", bug)
    r = client.get("/client/")
    assert r.status_code == 500 and translate("de", PROBLEMS["Other"]) in text_of(r.text)
    assert "ValueError" in caplog.text and scenario.voucher not in caplog.text


def test_receipts_list_payments_to_the_account_too(client: TestClient, scenario: Scenario) -> None:
    r = client.post(
        f"/v1/ngo/programs/{scenario.program_id}/disbursements",
        json={"payments": [{"address": scenario.account, "amount": "12.5"}], "reference": "Dezember"},
        headers=auth(scenario.ngo_key),
    )
    assert r.status_code == 201, r.text
    sign_in(client, scenario.voucher, scenario.pin)
    client.get("/client/language/en")
    page = client.get("/client/receipts")
    words = text_of(page.text)
    assert f"Payment: {PROGRAM_NAME}" in words and "€12.50" in words and r.json()["transactionHash"] in words


def test_nothing_to_claim_and_nothing_received_are_said_plainly(
    client: TestClient, scenario: Scenario
) -> None:
    other = register(client, scenario.ngo_key, "Nobody Yet")
    sign_in(client, other["voucherCode"], "80417")
    assert translate("de", "There is nothing ready for you at the moment.") in text_of(
        client.get("/client/").text
    )
    assert translate("de", "You have not received anything yet.") in text_of(
        client.get("/client/receipts").text
    )


def test_staff_assisted_sessions_say_so_on_every_page(client: TestClient, scenario: Scenario) -> None:
    r = client.post(
        f"/v1/ngo/clients/{scenario.client_id}/assisted-session",
        json={"pin": scenario.pin},
        headers=auth(scenario.ngo_key),
    )
    client.cookies.set(SESSION, r.json()["token"])
    assert translate("de", "A member of staff of your advice centre is helping you right now.") in text_of(
        client.get("/client/").text
    )


def test_sign_out_ends_the_session_for_good(client: TestClient, scenario: Scenario) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    token = client.cookies.get(SESSION)
    assert token
    r = client.post("/client/sign-out")
    assert (r.status_code, r.headers["location"]) == (303, "/client/sign-in?reason=signed-out")
    assert "Max-Age=0" in set_cookie_headers(r)[SESSION]
    page = client.get(r.headers["location"])
    assert translate("de", "You are signed out. You can hand over the computer now.") in text_of(page.text)
    client.cookies.set(SESSION, token)  # the old cookie, kept by someone
    r = client.get("/client/receipts")
    assert (r.status_code, r.headers["location"]) == (303, "/client/sign-in?reason=expired")
    assert translate("de", PROBLEMS["SessionExpired"]) in text_of(client.get(r.headers["location"]).text)
    assert client.get("/v1/client/me", headers=auth(token)).json()["code"] == "SessionExpired"


def test_a_new_sign_in_on_the_same_browser_ends_the_previous_session(
    client: TestClient, scenario: Scenario
) -> None:
    left_open = csrf_of(client.get("/client/sign-in").text)  # a sign-in page left open in another tab
    sign_in(client, scenario.voucher, scenario.pin)
    first = client.cookies.get(SESSION)
    other = register(client, scenario.ngo_key, "Next In Line")
    token = left_open
    r = client.post("/client/sign-in", data={"code": other["voucherCode"], "pin": "80417", "csrf": token})
    assert r.status_code == 303
    assert client.get("/v1/client/me", headers=auth(first or "")).json()["code"] == "SessionExpired"


def test_every_page_carries_the_protective_headers(client: TestClient, scenario: Scenario) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    for path in ("/client/", "/client/receipts", "/client/nowhere"):
        r = client.get(path)
        assert r.headers["cache-control"] == "no-store", path
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["content-language"] == "de"


def test_unknown_client_pages_are_html_not_found_pages(client: TestClient) -> None:
    for method, path in (("GET", "/client/nowhere"), ("POST", "/client/a/b/c"), ("GET", "/client/claims/1")):
        r = client.request(method, path)
        assert r.status_code == 404 and "Seite nicht gefunden" in r.text, path
    assert client.get("/v1/nowhere").json()["code"] == "NotFound"  # the JSON API keeps its problems


def test_the_stylesheet_is_served_and_cacheable(client: TestClient) -> None:
    page = client.get("/client/sign-in").text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert href is not None
    css = client.get(href.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "max-age" in css.headers["cache-control"] and "min-height: 3rem" in css.text


# --- whatever is posted, the answer is a page ------------------------------------------------

FORM_TEXT = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["", "0", "\x00", "a" * 5000]
)


@pytest.fixture
def tokens(client: TestClient, scenario: Scenario) -> dict[str, str]:
    """A signed-in browser's form tokens: the sign-in form's and the session's."""
    found = {"/client/sign-in": csrf_of(client.get("/client/sign-in").text)}
    sign_in(client, scenario.voucher, scenario.pin)
    found["/client/claims/"] = csrf_of(client.get("/client/").text)
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(st.sampled_from(["code", "pin", "csrf", "other"]), FORM_TEXT, max_size=4),
    target=st.sampled_from(["/client/sign-in", "/client/claims/1", "/client/claims/99", "/client/x/y"]),
    genuine=st.booleans(),
)
def test_any_form_post_is_answered_with_a_page_never_a_server_error(
    client: TestClient, tokens: dict[str, str], fields: dict[str, str], target: str, genuine: bool
) -> None:
    if genuine:  # past the CSRF check, into the form's own handling
        fields = {**fields, "csrf": next((v for k, v in tokens.items() if target.startswith(k)), "")}
    r = client.post(target, data=fields)
    assert r.status_code in (303, 400, 403, 404, 409, 429), (target, fields, r.status_code)
    assert r.status_code == 303 or r.headers["content-type"].startswith("text/html")
