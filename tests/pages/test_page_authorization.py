"""Who gets which client page: every page route against every kind of caller, in one table.

The JSON API's matrix (tests/api/test_authorization_matrix.py) leaves the page routes to this one,
and a route served by neither table fails there. Pages know only their own session cookie, made by
signing in with voucher code and PIN: an organisation's API key opens no client page, whether it
comes as a bearer token or is put into the session cookie, and neither does a client's JSON-API
token; the page cookie in turn opens nothing in the JSON API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.gateway import Gateway
from tests.api.conftest import make_settings
from tests.api.test_authorization_matrix import MATRIX, app_routes
from tests.pages._scenario import Scenario, auth
from tests.pages.conftest import BASE_URL, csrf_of, sign_in

Route = tuple[str, str]

CALLERS = ("none", "invalid", "admin", "funder", "ngo", "api-token", "key-cookie", "client")
INVALID_KEY = "alm_000000000000_not-a-key-this-gateway-issued"
SESSION = "__Host-allmende-session"

# "200"/"404": that status; "->X": a 303 to exactly X; "->X*": a 303 to a location starting with X.
# A page for signed-in clients sends everyone else to sign in, before anything happens.
#
#                                                   none invalid admin funder ngo api-token key-cookie client
OTHERS, CLIENT = 7, 1
TO_SIGN_IN = "->/client/sign-in*"
SIGNED_OUT = "->/client/sign-in?reason=signed-out"
TO_DESK = "->/staff/sign-in"
DESK_SIGNED_OUT = "->/staff/sign-in?reason=signed-out"
TO_COUNTER = "->/counter/sign-in"
COUNTER_SIGNED_OUT = "->/counter/sign-in?reason=signed-out"
PAGE_MATRIX: dict[Route, tuple[str, ...]] = {
    ("GET", "/"):                                   ("->/client/",) * (OTHERS + CLIENT),
    ("GET", "/client"):                             ("->/client/",) * (OTHERS + CLIENT),
    ("GET", "/client/"):                            (TO_SIGN_IN,) * OTHERS + ("200",),
    ("GET", "/client/receipts"):                    (TO_SIGN_IN,) * OTHERS + ("200",),
    ("POST", "/client/claims/{claim_program_id}"):  (TO_SIGN_IN,) * OTHERS + ("->/client/?claimed=*",),
    ("GET", "/client/sign-in"):                     ("200",) * OTHERS + ("->/client/",),
    ("POST", "/client/sign-in"):                    ("->/client/",) * (OTHERS + CLIENT),
    ("POST", "/client/sign-out"):                   (SIGNED_OUT,) * (OTHERS + CLIENT),
    ("GET", "/client/language/{lang}"):             ("->/client/",) * (OTHERS + CLIENT),
    ("GET", "/client/static/pages.css"):            ("200",) * (OTHERS + CLIENT),
    ("GET", "/client/what-i-have"):                 (TO_SIGN_IN,) * OTHERS + ("200",),
    ("GET", "/client/rounds"):                      (TO_SIGN_IN,) * OTHERS + ("200",),
    ("GET", "/client/rounds/{round_id}"):           (TO_SIGN_IN,) * OTHERS + ("404",),  # no round yet
    ("POST", "/client/rounds/{round_id}/ballot"):   (TO_SIGN_IN,) * OTHERS + ("404",),
    ("POST", "/client/rounds/{round_id}/proposals"): (TO_SIGN_IN,) * OTHERS + ("404",),
    ("GET", "/client/rounds/{round_id}/results.svg"): ("404",) * (OTHERS + CLIENT),  # public, none yet
    ("GET", "/client/check"):                       ("200",) * (OTHERS + CLIENT),
    ("POST", "/client/check"):                      ("404",) * (OTHERS + CLIENT),  # no such receipt
    ("GET", "/client/programs/{program_id}/providers"): ("200",) * (OTHERS + CLIENT),  # public
    ("GET", "/client/pay/{code}"):                  (TO_SIGN_IN,) * OTHERS + ("404",),  # no such payment
    ("POST", "/client/pay/{code}"):                 (TO_SIGN_IN,) * OTHERS + ("404",),
    ("GET", "/client/payout"):                      (TO_SIGN_IN,) * OTHERS + ("200",),
    ("POST", "/client/payout"):                     (TO_SIGN_IN,) * OTHERS + ("403",),  # no CSRF token
    ("GET", "/client/{rest:path}"):                 ("404",) * (OTHERS + CLIENT),
    ("POST", "/client/{rest:path}"):                ("404",) * (OTHERS + CLIENT),
    # the staff desk: only its own cookie, made by a person's sign-in (tests/pages/test_staff_desk.py),
    # opens it; no key, client session or planted cookie does. Sign-in without its CSRF token: 403
    ("GET", "/staff"):                              ("->/staff/",) * (OTHERS + CLIENT),
    ("GET", "/staff/sign-in"):                      ("200",) * (OTHERS + CLIENT),
    ("POST", "/staff/sign-in"):                     ("403",) * (OTHERS + CLIENT),
    ("POST", "/staff/sign-out"):                    (DESK_SIGNED_OUT,) * (OTHERS + CLIENT),
    ("GET", "/staff/"):                             (TO_DESK,) * (OTHERS + CLIENT),
    ("POST", "/staff/find"):                        (TO_DESK,) * (OTHERS + CLIENT),
    ("GET", "/staff/clients/{client_id}"):          (TO_DESK,) * (OTHERS + CLIENT),
    ("POST", "/staff/clients/{client_id}/assist"):  (TO_DESK,) * (OTHERS + CLIENT),
    ("POST", "/staff/clients/{client_id}/pin-reset"): (TO_DESK,) * (OTHERS + CLIENT),
    ("GET", "/staff/register"):                     (TO_DESK,) * (OTHERS + CLIENT),
    ("POST", "/staff/register"):                    (TO_DESK,) * (OTHERS + CLIENT),
    ("GET", "/staff/voucher-sheets/{sheet_id}"):    (TO_DESK,) * (OTHERS + CLIENT),
    # the providers' counter: only its own cookie, made by a cashier's sign-in (test_counter_page.py)
    ("GET", "/counter"):                            ("->/counter/",) * (OTHERS + CLIENT),
    ("GET", "/counter/sign-in"):                    ("200",) * (OTHERS + CLIENT),
    ("POST", "/counter/sign-in"):                   ("403",) * (OTHERS + CLIENT),
    ("POST", "/counter/sign-out"):                  (COUNTER_SIGNED_OUT,) * (OTHERS + CLIENT),
    ("GET", "/counter/"):                           (TO_COUNTER,) * (OTHERS + CLIENT),
    ("POST", "/counter/payments"):                  (TO_COUNTER,) * (OTHERS + CLIENT),
    ("GET", "/counter/payments/{code}"):            (TO_COUNTER,) * (OTHERS + CLIENT),
    ("POST", "/counter/payments/{code}/confirm"):   (TO_COUNTER,) * (OTHERS + CLIENT),
    ("POST", "/counter/payments/{code}/refund"):    (TO_COUNTER,) * (OTHERS + CLIENT),
}  # fmt: skip


def test_every_page_route_has_a_row_and_no_row_is_stale(tmp_path: Path) -> None:
    from tests.pages.test_public_pages import PUBLIC_PAGE_MATRIX  # the public pages have their own table

    served = app_routes(create_app(make_settings(tmp_path)))
    assert served - MATRIX.keys() - PUBLIC_PAGE_MATRIX.keys() == PAGE_MATRIX.keys()
    assert not MATRIX.keys() & PAGE_MATRIX.keys()


def _matches(response: object, expected: str) -> bool:
    status = response.status_code  # type: ignore[attr-defined]
    if not expected.startswith("->"):
        return str(status) == expected
    location: str = response.headers.get("location", "")  # type: ignore[attr-defined]
    target = expected[2:]
    if status != 303:
        return False
    return location.startswith(target[:-1]) if target.endswith("*") else location == target


def test_each_caller_gets_what_its_row_says(client: TestClient, gateway: Gateway, scenario: Scenario) -> None:
    api_token = client.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    headers = {
        "none": {},
        "invalid": auth(INVALID_KEY),
        "admin": auth(scenario.admin_key),
        "funder": auth(scenario.funder_key),
        "ngo": auth(scenario.ngo_key),
        "api-token": auth(api_token.json()["token"]),
        "key-cookie": {},
        "client": {},
    }
    mismatches = []
    for (method, template), row in PAGE_MATRIX.items():
        path = template.replace("{claim_program_id}", str(scenario.claim_program_id))
        path = path.replace("{program_id}", str(scenario.program_id))
        path = (
            path.replace("{round_id}", "1").replace("{lang}", "en").replace("{rest:path}", "somewhere/else")
        )
        path = path.replace("{client_id}", scenario.client_id).replace("{sheet_id}", "s" * 16)
        path = path.replace("{code}", "ABCDEFGH")
        for caller, expected in zip(CALLERS, row, strict=True):
            browser = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)
            browser.headers.update(headers[caller])
            sign_in_form = csrf_of(browser.get("/client/sign-in").text)
            if caller == "key-cookie":
                browser.cookies.set(SESSION, scenario.ngo_key)
                browser.cookies.set("__Host-allmende-staff", scenario.ngo_key)
            if caller == "client":
                sign_in(browser, scenario.voucher, scenario.pin)
            if template == "/client/sign-in":
                form = {"code": scenario.voucher, "pin": scenario.pin, "csrf": sign_in_form}
            else:
                home = browser.get("/client/", follow_redirects=True).text
                form = {"csrf": csrf_of(home) if caller == "client" and "jetzt abholen" in home else ""}
            response = browser.request(method, path, data=form if method == "POST" else None)
            if not _matches(response, expected):
                where = response.headers.get("location", "")
                mismatches.append(
                    f"{method} {path} as {caller}: {response.status_code} {where}, expected {expected}"
                )
            if (
                response.status_code == 200
                and caller != "client"
                and template in ("/client/", "/client/receipts")
            ):
                mismatches.append(f"{method} {path} as {caller}: a client page without a client session")
    assert not mismatches, "\n".join(mismatches)


def test_an_api_key_planted_in_the_session_cookie_is_thrown_away(
    client: TestClient, scenario: Scenario
) -> None:
    client.cookies.set(SESSION, scenario.ngo_key)
    r = client.get("/client/")
    assert (r.status_code, r.headers["location"]) == (303, "/client/sign-in?reason=expired")
    assert f'{SESSION}=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]


def test_the_page_cookie_opens_nothing_in_the_json_api(client: TestClient, scenario: Scenario) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    assert client.get("/client/").status_code == 200
    for method, path in (("GET", "/v1/client/me"), ("GET", "/v1/client/entitlements")):
        r = client.request(method, path)
        assert (r.status_code, r.json()["code"]) == (401, "MissingClientSession"), path
    r = client.post(f"/v1/client/claims/{scenario.claim_program_id}")
    assert r.status_code == 401
