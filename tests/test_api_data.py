"""The MOBPROC v1 API's data: `mobproc data load` (one transaction, idempotent, every problem
named by file, line and field), the demo tenant of `serve --demo`, the migration, and the API's
OpenAPI description and docs page (served by mobproc itself, shown by a real browser)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from alembic import command

from api_world import DEMO, order, tenant_data, write_data
from conftest import TOKEN_PATH, LiveServer, ServerProcess, database_url, dump_database, mobproc, remember
from mobproc.cli.serve import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME
from mobproc.storage.database import Database
from mobproc.storage.migrate import _config, is_current, upgrade


def data_load(path: Path, url: str) -> subprocess.CompletedProcess:
    return mobproc("data", "load", str(path), env={"MOBPROC_DATABASE_URL": url})


def records(url: str) -> list[str]:
    """The API's rows, each without its row id (a reload numbers them anew)."""
    return sorted(line.split(" | ", 1)[1] for line in dump_database(url).splitlines() if line.startswith("api_records"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return database_url(tmp_path / "mobproc.db")


def test_loading_a_file_twice_changes_nothing(tmp_path: Path, url: str) -> None:
    path = write_data(tmp_path / "t.yaml", tenant_data("ONE", []), tenant_data("TWO", []))
    first = data_load(path, url)
    assert first.returncode == 0, first.stderr
    assert "loaded tenants ONE, TWO" in first.stdout
    rows = records(url)
    assert len(rows) == 2 * (sum(len(DEMO[k]) for k in ("employees", "regions", "vendors", "manufacturers", "devices",
                                                       "plans", "accessories", "deviceAssets", "serviceAssets")))
    assert data_load(path, url).returncode == 0
    assert records(url) == rows


def problems_of(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout
    return result.stderr


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_yaml_file_with_problems_names_file_line_and_field_and_changes_nothing(tmp_path: Path, url: str) -> None:
    good = write_data(tmp_path / "good.yaml", tenant_data("ONE", []))
    assert data_load(good, url).returncode == 0
    before = records(url)
    tenant = tenant_data("ONE", [{"username": "command://someone", "employee": "40999"}])
    tenant["devices"][1]["price"] = "a lot"
    tenant["plans"][0]["devices"].append("880999")
    bad = write_data(tmp_path / "bad.yaml", tenant)
    text = bad.read_text()
    errors = problems_of(data_load(bad, url))
    assert f"{bad}:{line_of(text, 'a lot')}: tenants[0].devices[1].price: Input should be a valid number" in errors
    # References are checked once the fields are: the next run names them.
    tenant["devices"][1]["price"] = 449.99
    write_data(bad, tenant)
    text = bad.read_text()
    errors = problems_of(data_load(bad, url))
    assert f"{bad}:{line_of(text, '40999')}: tenants[0].accounts[0].employee: no employee '40999'" in errors
    assert f"{bad}:{line_of(text, '880999')}: tenants[0].plans[0].devices[2]: no catalog device '880999'" in errors
    assert records(url) == before


def test_a_json_file_names_the_line_of_a_syntax_error_and_of_a_bad_field(tmp_path: Path, url: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"tenants": [\n  {"code": "ONE",\n   "name": "One"\n   "employees": []}\n]}\n')
    assert f"{broken}:4: (file): not JSON: Expecting ',' delimiter" in problems_of(data_load(broken, url))
    wrong = tmp_path / "wrong.json"
    tenant = tenant_data("ONE", [])
    tenant["employees"][2]["status"] = "RETIRED"
    wrong.write_text(json.dumps({"tenants": [tenant]}, indent=2))
    errors = problems_of(data_load(wrong, url))
    assert f"{wrong}:{line_of(wrong.read_text(), 'RETIRED')}: tenants[0].employees[2].status:" in errors


def test_an_unreadable_or_empty_file_is_refused_with_its_name(tmp_path: Path, url: str) -> None:
    assert f"{tmp_path / 'missing.yaml'}:?: (file): cannot be read" in problems_of(data_load(tmp_path / "missing.yaml", url))
    empty = tmp_path / "empty.yaml"
    empty.write_text("tenants: []\n")
    assert "tenants: List should have at least 1 item" in problems_of(data_load(empty, url))
    twice = write_data(tmp_path / "twice.yaml", tenant_data("ONE", []), tenant_data("ONE", []))
    assert "tenants[1].code: 'ONE' appears twice" in problems_of(data_load(twice, url))


def test_serve_demo_lets_the_seeds_account_order_at_once(tmp_path: Path) -> None:
    remember(DEMO_CLIENT_SECRET, DEMO_PASSWORD)
    with ServerProcess(tmp_path, "--demo") as live, live.client() as http:
        token = http.post(TOKEN_PATH, params={
            "grant_type": "password", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "scope": "MOBPROC", "username": DEMO_USERNAME, "password": DEMO_PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-TNGO-TENANT": "XYZ", "client_id": DEMO_CLIENT_ID}
        for confirm in (True, False):
            answer = http.post("/mobproc/v1/orders", params={"confirm": str(confirm).lower()}, headers=headers,
                               json=order("DEMO-0001"))
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "SUCCESS"
        assert answer.json()["order"]["status"] == "ORDER_SUBMITTED"
        assert "X-TNGO-TENANT: XYZ" in live.out_path.read_text()  # the printed walk names the headers


def test_the_readmes_curl_walk_confirms_then_submits_its_order(tmp_path: Path) -> None:
    """Issue 21, item 8: the README's walk, from the seed's token to a confirmed and then a
    submitted order. Its order.json, sent as the walk sends it, gets the answers its comments show."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    walk = readme.split("## The MOBPROC v1 API")[1].split("cat > order.json <<'JSON'\n")[1]
    body, comments = walk.split("\nJSON\n", 1)
    assert "ONETIME" in comments and "ORDER_SUBMITTED" in comments
    remember(DEMO_CLIENT_SECRET, DEMO_PASSWORD)
    with ServerProcess(tmp_path, "--demo") as live, live.client() as http:
        token = http.post(TOKEN_PATH, params={
            "grant_type": "password", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "scope": "MOBPROC", "username": DEMO_USERNAME, "password": DEMO_PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-TNGO-TENANT": "XYZ", "client_id": DEMO_CLIENT_ID,
                   "X-TNGO-CONTEXT-CORRELATIONID": "walk-1", "Content-Type": "application/json"}
        confirmed = http.post("/mobproc/v1/orders?confirm=true", headers=headers, content=body.encode())
        assert confirmed.status_code == 200, confirmed.text
        costs = {price["recurrence"]: price for price in confirmed.json()["orderConfirmation"]["costSummary"]}
        assert (costs["ONETIME"]["amount"], costs["MONTHLY"]["amount"], costs["ONETIME"]["currencyCode"]) == (
            279.98, 55.0, "USD")
        submitted = http.post("/mobproc/v1/orders", headers=headers, content=body.encode())
        assert submitted.status_code == 200, submitted.text
        placed = submitted.json()["order"]
        assert (placed["orderId"], placed["status"], submitted.json()["status"]) == ("1", "ORDER_SUBMITTED", "SUCCESS")
        assert placed["_meta"]["href"] == f"{live.url}/mobproc/v1/orders/1"


@pytest.mark.sqlite_only
def test_the_migration_adds_and_removes_the_apis_tables(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(database)
    assert is_current(database)
    with database.engine.begin() as connection:
        command.downgrade(_config(connection), "0004")
        tables = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
        assert not tables & {"api_tenants", "api_records", "api_orders"} and "grants" in tables
    upgrade(database)
    assert is_current(database)
    database.dispose()


def test_the_api_describes_itself_and_its_docs_page_is_served_here(server: LiveServer) -> None:
    with server.client() as http:
        document = http.get("/mobproc/v1/openapi.json").json()
        page = http.get("/mobproc/v1/docs")
        script = http.get("/mobproc/v1/docs/swagger-ui-bundle.js")
        assert http.get("/mobproc/v1/docs/../../etc/passwd").status_code == 404
    assert document["openapi"].startswith("3.1") and document["servers"] == [{"url": "/mobproc/v1"}]
    assert {"/ping", "/me", "/orders", "/orders/{order_id}/approval", "/catalog/plans/{plan_id}"} <= set(document["paths"])
    headers = {p["name"]: p["required"] for p in document["paths"]["/me"]["get"]["parameters"] if p["in"] == "header"}
    assert headers["X-TNGO-TENANT"] and headers["client_id"] and not headers["X-TNGO-CONTEXT-EMPLOYEEID"]
    assert "422" not in json.dumps(document["paths"])
    assert page.status_code == 200 and "http" not in page.text.replace('http-equiv', '')  # no other origin
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript") and len(script.content) > 100_000


def test_a_real_browser_renders_the_docs_page_from_mobprocs_own_assets(server: LiveServer) -> None:
    chromium = "/usr/bin/chromium"
    assert Path(chromium).exists(), "chromium is a test dependency (.ci/run installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=10000"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", f"{server.url}/mobproc/v1/docs"], capture_output=True,
                         text=True, timeout=120).stdout
    # Swagger UI ran (its script from mobproc), fetched /openapi.json and drew the operations.
    assert "MOBPROC v1 (mobproc sandbox)" in dom and "/orders/{order_id}/approval" in dom
