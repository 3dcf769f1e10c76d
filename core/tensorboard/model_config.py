"""The model a log describes, in one neutral shape the doctor can read.

Keras' TensorBoard callback writes the model's own config (tag `keras`, plugin
`graph_keras_model`): layer classes, units, activations, initializers with their
arguments, and the compile config (loss with its `from_logits`, optimizer, learning
rate). `summarise_keras` reduces it to:

    {"layers": [{"name", "units", "fan_in", "activation", "kernel_init", "kernel_std",
                 "kernel_mean", "bias_const"}],   # Dense layers, input side first
     "output_activation", "loss", "from_logits", "optimizer", "learning_rate", "input_noise_std"}

kernel_std is the std the initializer draws with (None when unknown); bias_const is the
bias' constant start value (None unless a constant). Pure functions on JSON; no TensorFlow.
"""

from __future__ import annotations

import json
import math

# Initializers that scale with the layer's fans: (fan mode, scale, distribution).
_VARIANCE_SCALING = {
    "glorotuniform": ("fan_avg", 1.0), "glorotnormal": ("fan_avg", 1.0),
    "heuniform": ("fan_in", 2.0), "henormal": ("fan_in", 2.0),
    "lecununiform": ("fan_in", 1.0), "lecunnormal": ("fan_in", 1.0),
}


def summarise_keras(config_json: str | dict) -> dict | None:
    """The neutral model summary of a Keras model config (JSON text, or already parsed), or
    None if unreadable. Untrusted input: core/tensorboard/reading/texts.py bounds it first."""
    try:
        config = json.loads(config_json) if isinstance(config_json, str) else config_json
    except (ValueError, RecursionError):
        return None
    if not isinstance(config, dict):
        return None
    layers_config = (config.get("config") or {}).get("layers") or []
    dense, fan_in, noise = [], _input_width(layers_config), None
    for layer in layers_config:
        kind = layer.get("class_name", "")
        settings = layer.get("config") or {}
        if kind == "GaussianNoise":
            noise = settings.get("stddev")
        if kind != "Dense":
            continue
        units = settings.get("units")
        built = (layer.get("build_config") or {}).get("input_shape") or []
        this_fan_in = built[-1] if built and isinstance(built[-1], int) else fan_in
        std, mean = _initializer_std(settings.get("kernel_initializer"), this_fan_in, units)
        dense.append({
            "name": settings.get("name") or layer.get("name"),
            "units": units,
            "fan_in": this_fan_in,
            "activation": _activation_name(settings.get("activation")),
            "kernel_init": _initializer_name(settings.get("kernel_initializer")),
            "kernel_std": std,
            "kernel_mean": mean,
            "bias_const": _constant(settings.get("bias_initializer")),
        })
        fan_in = units
    if not dense:
        return None
    compiled = config.get("compile_config") or {}
    loss, from_logits = _loss(compiled.get("loss"))
    optimizer = compiled.get("optimizer") or {}
    optimizer_config = optimizer.get("config") or {} if isinstance(optimizer, dict) else {}
    learning_rate = optimizer_config.get("learning_rate")
    return {
        "layers": dense,
        "output_activation": dense[-1]["activation"],
        "loss": loss,
        "from_logits": from_logits,
        "optimizer": optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer,
        "learning_rate": learning_rate if isinstance(learning_rate, (int, float)) else None,
        "input_noise_std": noise,
    }


def _input_width(layers_config: list) -> int | None:
    for layer in layers_config:
        shape = (layer.get("config") or {}).get("batch_shape") or (layer.get("config") or {}).get("batch_input_shape")
        if shape and isinstance(shape[-1], int):
            return shape[-1]
    return None


def _activation_name(activation) -> str | None:
    if isinstance(activation, str):
        return activation
    if isinstance(activation, dict):  # serialized function: {"config": "relu"} or {"class_name": ...}
        inner = activation.get("config")
        return inner if isinstance(inner, str) else activation.get("class_name")
    return None


def _initializer_name(initializer) -> str | None:
    if isinstance(initializer, str):
        return initializer
    if isinstance(initializer, dict):
        return initializer.get("class_name")
    return None


def _initializer_std(initializer, fan_in: int | None, fan_out: int | None) -> tuple[float | None, float]:
    """(std, mean) of the values an initializer draws, for a kernel of fan_in x fan_out."""
    name = (_initializer_name(initializer) or "").replace("_", "").lower()
    args = initializer.get("config") or {} if isinstance(initializer, dict) else {}
    if name in ("zeros", "zero"):
        return 0.0, 0.0
    if name in ("ones", "one"):
        return 0.0, 1.0
    if name == "constant":
        return 0.0, float(args.get("value", 0.0))
    if name == "randomuniform":
        low, high = float(args.get("minval", -0.05)), float(args.get("maxval", 0.05))
        return (high - low) / math.sqrt(12.0), (high + low) / 2
    if name in ("randomnormal", "truncatednormal"):
        std = float(args.get("stddev", 0.05))
        return (std * 0.88 if name == "truncatednormal" else std), float(args.get("mean", 0.0))
    if name in ("variancescaling", *_VARIANCE_SCALING) and fan_in and fan_out:
        mode, scale = _VARIANCE_SCALING.get(name, (args.get("mode", "fan_in"), float(args.get("scale", 1.0))))
        fan = {"fan_in": fan_in, "fan_out": fan_out}.get(mode, (fan_in + fan_out) / 2)
        return math.sqrt(scale / fan), 0.0
    return None, 0.0


def _constant(initializer) -> float | None:
    name = (_initializer_name(initializer) or "").lower()
    if name in ("zeros", "zero"):
        return 0.0
    if name == "constant" and isinstance(initializer, dict):
        return float((initializer.get("config") or {}).get("value", 0.0))
    return None


def _loss(loss) -> tuple[str | None, bool | None]:
    """(loss name, from_logits): from_logits None when the loss does not say (a plain function)."""
    if isinstance(loss, str):
        return loss, False if "crossentropy" in loss.replace("_", "").lower() else None
    if isinstance(loss, dict):
        config = loss.get("config")
        if isinstance(config, dict):
            return loss.get("class_name") or config.get("name"), config.get("from_logits")
        return (config if isinstance(config, str) else loss.get("class_name")), None
    return None, None
