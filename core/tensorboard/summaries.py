"""The serialised Summary protobufs (scalars, histograms, images, text) that
core.tensorboard.eventfile writes, built from plain numbers and arrays."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from tensorboard.compat.proto import types_pb2
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata

_SCALAR = scalar_metadata.create_summary_metadata(display_name=None, description=None)
_HISTOGRAM = histogram_metadata.create_summary_metadata(display_name=None, description=None)
_IMAGE = image_metadata.create_summary_metadata(display_name=None, description=None)
_TEXT = text_metadata.create_summary_metadata(display_name=None, description=None)
_DATA_TYPES = {np.dtype("<f4"): types_pb2.DT_FLOAT, np.dtype("<f8"): types_pb2.DT_DOUBLE}


def _shape(*sizes: int) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in sizes])


def images_summary(tag: str, images: np.ndarray) -> bytes:
    """[k, 28, 28, 1] floats in [0, 1] as TensorBoard's image plugin stores them:
    a string tensor [width, height, png, png, ...]."""
    # tf.image.convert_image_dtype's rounding (x * 255.5, truncated) and PNGs from zlib: 0.19 ms
    # for 8 digits, where TensorFlow's eager ops took 1.7-2.8 ms inside a run.
    pixels = np.clip(np.asarray(images, np.float32) * 255.5, 0, 255).astype(np.uint8)
    height, width = images.shape[1:3]
    strings = [str(width).encode(), str(height).encode(), *(grey_png(image[..., 0]) for image in pixels)]
    tensor = TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_shape(len(strings)), string_val=strings)
    return Summary(value=[Summary.Value(tag=tag, metadata=_IMAGE, tensor=tensor)]).SerializeToString()


def grey_png(pixels: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a [height, width] uint8 array."""
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.hstack([np.zeros((height, 1), np.uint8), pixels])  # each row starts with filter type 0 (none)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8 bits, greyscale, deflate, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b"")


def text_summary(texts: dict[str, str]) -> bytes:
    values = [
        Summary.Value(tag=tag, metadata=_TEXT, tensor=TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_shape(), string_val=[text.encode()]))
        for tag, text in texts.items()
    ]
    return Summary(value=values).SerializeToString()


class TensorBlock:
    """A step's named tensors of one dtype and shape as one serialised Summary: ~2 us for
    60 scalars, ~10 us for 14 histograms.

    Each value's bytes are fixed except its tensor's content, so the bytes are built once
    and each call only copies the numbers in. TensorBoard reads the result exactly like
    tf.summary's output (a tensor with its plugin's metadata). The metadata goes in a tag's
    first event only, as tf.compat.v1's FileWriter does: TensorBoard reads it from there,
    and it is almost a quarter of a scalar event's size.
    """

    def __init__(self, names: list[str], metadata, dtype: str, shape: tuple[int, ...] = ()):
        self.names = list(names)
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)
        self._first = self._template(metadata)
        self._later = self._template(None)

    def _template(self, metadata) -> tuple[np.ndarray, np.ndarray]:
        """(every byte of the Summary, [names, content bytes] positions of each tensor's content)."""
        width = self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64))
        sentinel = np.random.default_rng(0).bytes(width)  # found once in each value's bytes (asserted)
        parts, content_at, size = [], [], 0
        for name in self.names:
            tensor = TensorProto(dtype=_DATA_TYPES[self.dtype], tensor_shape=_shape(*self.shape), tensor_content=sentinel)
            serialised = Summary(value=[Summary.Value(tag=name, metadata=metadata, tensor=tensor)]).SerializeToString()
            at = serialised.index(sentinel)
            assert sentinel not in serialised[at + 1 :]
            content_at.append(size + at + np.arange(width))
            parts.append(serialised)
            size += len(serialised)
        return np.frombuffer(b"".join(parts), np.uint8).copy(), np.array(content_at).reshape(len(self.names), width)

    def serialise(self, values: np.ndarray) -> bytes:
        """The Summary for `values`: one tensor of the block's shape per name, in order."""
        template, content_at = self._first if self._first is not None else self._later
        self._first = None
        out = template.copy()
        out[content_at] = np.ascontiguousarray(values, self.dtype).reshape(len(self.names), -1).view(np.uint8)
        return out.tobytes()


class ScalarBlock(TensorBlock):
    """Float scalars, as tf.summary.scalar writes them."""

    def __init__(self, names: list[str]):
        super().__init__(names, _SCALAR, "<f4")


class HistogramBlock(TensorBlock):
    """[buckets, 3] float64 rows of (left edge, right edge, count), as tf.summary.histogram writes them."""

    def __init__(self, names: list[str], buckets: int):
        super().__init__(names, _HISTOGRAM, "<f8", (buckets, 3))
