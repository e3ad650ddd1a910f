"""README's "Statuses per route" says what openapi.json says: each route's statuses, no more, no fewer.

Rule: in each row of that table, the routes are the backticked `METHOD /path` names of the first cell; its statuses are
every three-digit number of the other cells, plus the common ones the paragraph above the table names (400, 413, 500,
503, and 401 and 429 unless the row says "no JWT").
"""

import json
import re

from local.stack import ROOT

COMMON = {"400", "413", "500", "503"}
WITH_JWT = {"401", "429"}
ROUTE = re.compile(r"`([A-Z]+ /[^`]*)`")
STATUS = re.compile(r"(?<![\w.])([2-5]\d\d)(?![\w.])")


def readme_statuses() -> dict[str, set[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Statuses per route", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        routes = ROUTE.findall(cells[0]) if len(cells) == 3 else []
        statuses = set(STATUS.findall(" ".join(cells[1:]))) | COMMON | (set() if "no JWT" in cells[0] else WITH_JWT)
        for route in routes:
            table[route] = statuses
    return table


def openapi_statuses() -> dict[str, set[str]]:
    spec = json.loads((ROOT / "openapi.json").read_text())
    return {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def test_the_readme_lists_every_route_of_the_contract() -> None:
    assert set(readme_statuses()) == set(openapi_statuses())


def test_each_routes_statuses_in_the_readme_are_the_contracts() -> None:
    readme, contract = readme_statuses(), openapi_statuses()
    assert {route: sorted(readme[route]) for route in contract} == {route: sorted(codes) for route, codes in contract.items()}
