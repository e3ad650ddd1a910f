"""`make clickhouse-schema`'s client of a ClickHouse server: clickhouse-connect, ClickHouse's own Python driver.

The functions read ClickHouse through agentmode.clickhouse.RemoteClickHouse (JSON over the HTTP interface, no driver:
its import and set-up requests were most of their cold start). This deploy-time tool runs the DDL and loads the price
table with the driver: typed Native inserts, compressed and chunked, and the client options a ClickHouse setup may
need (proxies, TLS), with no code of ours. It runs where the repository is, so it loads the layer's settings first.
"""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the layer is on the path only once local.lambda_runtime.use_layer() ran
    from agentmode.clickhouse import Params, Row
    from agentmode.settings import Settings


class DriverClickHouse:
    """The ClickHouse protocol of agentmode.clickhouse (query, command, insert) on a clickhouse-connect client."""

    def __init__(self, settings: "Settings", password: str) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            username=settings.clickhouse_user,
            password=password,
            database=settings.clickhouse_database,
            secure=settings.clickhouse_secure,
            # The driver truncates timeouts to whole seconds (0.5 would become 0, an error): round up instead.
            connect_timeout=math.ceil(settings.clickhouse_connect_timeout_seconds),
            send_receive_timeout=math.ceil(settings.clickhouse_query_timeout_seconds),
            autogenerate_session_id=False,
        )

    def query(self, sql: str, params: "Params") -> list["Row"]:
        return list(self._client.query(sql, parameters=dict(params)).named_results())

    def command(self, sql: str, params: "Params | None" = None) -> None:
        self._client.command(sql, parameters=dict(params or {}))

    def insert(self, table: str, rows: Sequence["Row"]) -> None:
        if rows:
            columns = list(rows[0])
            self._client.insert(table, [[row[c] for c in columns] for row in rows], column_names=columns)


def server_client(settings: "Settings") -> DriverClickHouse:
    """The server in CLICKHOUSE_HOST, with CLICKHOUSE_PASSWORD read as the functions read it (runtime_secrets)."""
    from agentmode.runtime_secrets import secret_value

    return DriverClickHouse(settings, secret_value("clickhouse_password", settings))
