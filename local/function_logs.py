"""Each function's own service name on its log lines, though the runner hosts every function in one process.

In Lambda, each function's container reads its POWERTOOLS_SERVICE_NAME (template.yaml) when the layer builds its one
Logger. Here one Logger serves all seven functions, and the process-wide environment variable could name only one,
so the name travels with the container thread instead: a filter stamps it on every record that thread logs (including
from the tasks and worker threads the function starts, which inherit the thread's context). Lambda itself never loads
this module.
"""

import logging
from contextvars import ContextVar

_service: ContextVar[str | None] = ContextVar("local_function_service", default=None)


class FunctionServiceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        service = _service.get()
        if service is not None:
            # Powertools writes a record's extra attributes over its own keys, so this wins over the Logger's service.
            record.service = service
        return True


_FILTER = FunctionServiceFilter()


def log_as(service: str) -> None:
    """Names `service` on every line the calling thread logs from now on: a container thread's first step."""
    # Imported here, not with this module: Powertools reads its environment when the Logger is built, which must come
    # after the runner's configure_environment.
    from agentmode.observability import logger

    _service.set(service)
    logger.addFilter(_FILTER)  # the logging module adds a filter once, however often this runs
