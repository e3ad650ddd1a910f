"""The floor a function can't beat: FastAPI + Mangum + Powertools Logger answering one route, nothing else.

bench.functions runs it from this folder with only the built layer beside it, exactly as it runs the real functions.
"""

from aws_lambda_powertools import Logger
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()
logger = Logger()


@app.get("/ping")
def ping() -> dict[str, bool]:
    return {"ok": True}


handler = logger.inject_lambda_context(Mangum(app, lifespan="off"))
