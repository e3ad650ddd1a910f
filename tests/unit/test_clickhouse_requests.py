"""RemoteClickHouse's request shapes: the multipart form it sends long parameters in, the server's address."""

import uuid
from email.parser import BytesParser
from email.policy import HTTP

import pytest

from agentmode import clickhouse
from agentmode.clickhouse import RemoteClickHouse, multipart_form
from agentmode.settings import Settings


def fields_of(body: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = message.iter_parts()
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode() for part in parts}


def test_a_form_carries_each_field_unchanged() -> None:
    fields = {"query": "SELECT {s:String}", "param_s": "界'\\\t\n--x"}

    assert fields_of(*multipart_form(fields)) == fields


def test_a_form_boundary_never_occurs_in_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter([uuid.UUID(int=1), uuid.UUID(int=2)])
    monkeypatch.setattr(clickhouse.uuid, "uuid4", lambda: next(drawn))
    value = f"a value holding {uuid.UUID(int=1).hex} inside"

    body, content_type = multipart_form({"param_s": value})

    assert content_type == f"multipart/form-data; boundary={uuid.UUID(int=2).hex}"
    assert fields_of(body, content_type) == {"param_s": value}


def test_an_ipv6_server_is_addressed_in_brackets() -> None:
    client = RemoteClickHouse(Settings(clickhouse_host="::1", clickhouse_port=8123, clickhouse_secure=False), "")

    assert client._base == "http://[::1]:8123"
