"""What the logs may never carry: credentials by field name, and tokens or keys inside any text."""

from agentmode.redaction import REDACTED, redact, redact_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def test_secret_named_fields_are_replaced_at_any_depth() -> None:
    value = {"password": "hunter2", "nested": [{"api_key": "k", "Authorization": "x", "stripe_signature": "t=1"}], "ok": 1}

    assert redact(value) == {
        "password": REDACTED,
        "nested": [{"api_key": REDACTED, "Authorization": REDACTED, "stripe_signature": REDACTED}],
        "ok": 1,
    }


def test_tokens_and_keys_inside_text_are_masked() -> None:
    text = f"Bearer abc.def {JWT} sk_live_51Habc whsec_abc123 sk-proj-0123456789abcdefghij postgresql://app:pw@db:5432/x"

    masked = redact_text(text)

    for secret in ("abc.def", JWT, "sk_live_51Habc", "whsec_abc123", "sk-proj-0123456789abcdefghij", "app:pw"):
        assert secret not in masked
    assert "db:5432/x" in masked


def test_ordinary_content_is_kept() -> None:
    value = {"goal": "Generate video ads for my SaaS product", "constraints": {"max_videos": 3}, "memory_type": "preference"}

    assert redact(value) == value
