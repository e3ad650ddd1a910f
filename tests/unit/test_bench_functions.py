"""bench.functions (issue 15): every function of the template measured, cold ratios as the median of three runs, the
budgets (memory_read's net of its embedding call), the headline rows, and the loopback stand-ins the functions call."""

import json
import math
import urllib.request
from typing import Any

from agentmode.clickhouse import ClickHouse, RemoteClickHouse
from agentmode.settings import Settings
from bench.functions_config import FUNCTIONS, MEMORY_READ, STATUS, WARM_NET_OF
from bench.functions_report import cold_ratios, cold_summary, evaluate_targets, warm_summary
from bench.functions_targets import Deployment
from bench.headline_table import TIMES, functions_rows, machines_line
from bench.loopback import bedrock_runtime, clickhouse_http
from local.template_routes import load_template


def process(total: float) -> dict[str, float]:
    return {"import_ms": total - 10, "first_request_ms": 10.0, "total_ms": total}


def test_every_function_of_the_template_is_measured() -> None:
    resources = load_template()["Resources"]
    declared = {name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"}
    assert set(FUNCTIONS) == declared


def test_the_cold_ratio_is_the_median_of_each_runs_ratio_to_the_baseline_of_that_run() -> None:
    baseline = cold_summary([[process(100), process(100)], [process(200), process(200)], [process(100), process(100)]])
    function = cold_summary([[process(150), process(110)], [process(240), process(260)], [process(500), process(500)]])
    assert cold_ratios(function, baseline) == {"cold_ratio_runs": [1.3, 1.25, 5.0], "cold_ratio_to_baseline": 1.3}


def test_a_warm_budget_leaves_out_the_time_spent_in_its_call_to_another_service() -> None:
    warm = warm_summary({"timings_ms": [5.0, 6.0, 7.0], "excluded_ms": [3.0, 3.5, 4.0]}, "the embedding call")
    functions = {
        name: {"cold_ratio_to_baseline": 1.0, "warm": warm if name in WARM_NET_OF else warm_summary({"timings_ms": [1.0, 1.0]})}
        for name in FUNCTIONS
    }
    warm_only = {f"{STATUS} GET /agent/events": warm_summary({"timings_ms": [1.0, 1.0]})}
    [read_budget] = [
        target for target in evaluate_targets(functions, warm_only) if (target["subject"], target["unit"]) == (MEMORY_READ, "ms")
    ]
    assert (warm["p50_ms"], read_budget["value"], read_budget["pass"]) == (6.0, 2.5, True)
    assert warm["net_of"] == "the embedding call"


def test_the_headline_rows_show_each_runs_ratio_and_the_routes_measured_warm_only() -> None:
    warm = {"p50_ms": 2.0, "p99_ms": 4.0}
    results: dict[str, Any] = {
        "baseline": {"cold": {"total_ms": 400.0}, "warm": {"p50_ms": 1.0, "p99_ms": 2.0}},
        "functions": {"AgentStatusFunction": {"cold_ratio_to_baseline": 1.25, "cold_ratio_runs": [1.2, 1.25, 1.4], "warm": warm}},
        "warm_only": {"AgentStatusFunction GET /agent/events": {"p50_ms": 3.5, "p99_ms": 5.0}},
        "targets": [
            {"subject": "AgentStatusFunction", "target": "cold", "limit": 1.3, "unit": "x", "pass": True},
            {"subject": "AgentStatusFunction GET /agent/events", "target": "warm", "limit": 3, "unit": "ms", "pass": False},
        ],
    }
    _, status, events = functions_rows(results)
    assert (status["measure"], status["p50"], status["target"], status["pass"]) == (
        "agent_status cold start (runs 1.20, 1.25, 1.40) / warm", f"1.25 {TIMES} / 2.00 ms", f"≤ 1.3 {TIMES}", True,
    )  # fmt: skip
    assert (events["measure"], events["p50"], events["target"], events["pass"]) == (
        "agent_status GET /agent/events, warm", "3.50 ms", "≤ 3 ms", False,
    )  # fmt: skip


def test_the_machines_line_names_each_benchmarks_machine_and_day() -> None:
    machine = {"nproc": 2, "cpu": "AMD EPYC", "python": "3.11.7"}
    machines = {
        "functions": {**machine, "date": "2026-12-04T10:00:00+00:00"},
        "memory": {**machine, "date": "2026-11-25T10:00:00+00:00"},
        "traces": {**machine, "date": "2026-11-25T12:00:00+00:00"},
    }
    assert machines_line(machines) == (
        "Ran on: functions: 2 cores, AMD EPYC, Python 3.11.7, 2026-12-04; memory, traces: 2 cores, AMD EPYC, Python"
        " 3.11.7, 2026-11-25."
    )


def test_a_function_gets_its_template_variables_with_references_pointed_at_the_stand_ins() -> None:
    deployment = Deployment(refs={"ClickHouseHost": "127.0.0.1"})
    traces, memory = deployment.environment("TracesFunction"), deployment.environment("MemoryReadFunction")
    assert {name: traces[name] for name in ("CLICKHOUSE_HOST", "CLICKHOUSE_USER", "CLICKHOUSE_DATABASE")} == {
        "CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_USER": "default", "CLICKHOUSE_DATABASE": "default",
    }  # fmt: skip
    assert (memory["EMBEDDINGS_PROVIDER"], memory["EMBEDDING_DIMENSION"]) == ("bedrock", "1024")
    assert not [name for name in {**traces, **memory} if name.endswith("_SECRET_ID")]
    assert deployment.timeout_seconds("RunSweeperFunction") == 50


def test_the_bedrock_stand_in_answers_invoke_model_with_a_unit_vector_of_the_dimension_asked() -> None:
    with bedrock_runtime() as bedrock:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{bedrock.url}/model/amazon.titan-embed-text-v2:0/invoke",
            data=json.dumps({"inputText": "brand voice", "dimensions": 256, "normalize": True}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback
            body = json.load(response)
    assert (len(body["embedding"]), body["inputTextTokenCount"], bedrock.invocations) == (256, 2, 1)
    assert math.isclose(math.fsum(x * x for x in body["embedding"]), 1.0)


def test_the_clickhouse_stand_in_answers_the_functions_client_as_a_server_would(clickhouse: ClickHouse) -> None:
    with clickhouse_http(clickhouse) as server:  # type: ignore[arg-type] # the session's chDB
        settings = Settings(clickhouse_host="127.0.0.1", clickhouse_port=server.port, clickhouse_secure=False)
        rows = RemoteClickHouse(settings, "").query("SELECT {n:UInt32} + 1 AS answer, {s:String} AS text", {"n": 41, "s": "a'b"})
    assert rows == [{"answer": 42, "text": "a'b"}]
