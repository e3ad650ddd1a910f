"""The local stack: embedded Postgres, migrations, and an API Gateway HTTP API (v2) emulator for the functions.

Importing it puts the shared layer on the import path, where Lambda has it (/opt/python): the runner answers its own
refusals in the layer's error format and reads the layer's settings.
"""

from local.lambda_runtime import use_layer

use_layer()
