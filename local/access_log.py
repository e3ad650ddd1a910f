"""The runner's access log without credentials.

A request line can carry a token in its query string (the SSE stream's access_token, since EventSource cannot send an
Authorization header), and a refused request is logged with its whole line: secret-named query parameters are masked
whatever their value, and tokens and keys anywhere else in the line as the layer masks free text.
"""

import re
from urllib.parse import unquote_plus

from agentmode.redaction import REDACTED, is_secret_name, redact_text

QUERY_PARAMETER = re.compile(r"(?<=[?&])(?P<name>[^?&=\s'\"]+)=(?P<value>[^&\s'\"]*)")


def _mask_parameter(match: re.Match[str]) -> str:
    # Decoded first, as the stream reads its parameters: access%5Ftoken is access_token too.
    return f"{match['name']}={REDACTED}" if is_secret_name(unquote_plus(match["name"])) else match[0]


def masked(line: str) -> str:
    return redact_text(QUERY_PARAMETER.sub(_mask_parameter, line))
