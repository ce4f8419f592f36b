"""The thin layer over llama.cpp's low-level API that the decoder needs.

``llama-cpp-python``'s high-level ``Llama`` (opened by
:func:`redline.engine.loader.load_llama`) holds the model and context and
tokenises; everything on the hot path (batches, decode, logits, KV rollback)
goes through the C API here, with logits read as numpy views, never copied
into Python lists.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import llama_cpp
import numpy as np

from redline.engine import loader
from redline.engine.batch import Scheduler
from redline.engine.text import common_prefix
from redline.errors import ContextOverflowError, RedlineError

SCRATCH_SEQ = 1
"""The sequence a lone engine decodes one token aside on (:meth:`Session.decode_aside`)."""
SCRATCH_CELLS = 256
"""KV cells added for it: one is used at a time; llama.cpp pads contexts to 256."""
GROUP_MAX = 16
"""Most continuations of one prompt a lone engine decodes together (``n``): they are
sequences 0 and ``SCRATCH_SEQ + 1`` .. ``SCRATCH_SEQ + GROUP_MAX - 1`` of its unified
cache, where copying the prompt to them only tags its cells."""


def group_seq(index: int) -> int:
    """The KV sequence of continuation ``index`` of a lone engine's group."""
    return 0 if index == 0 else SCRATCH_SEQ + index


def load_session_model(
    path: Path,
    *,
    n_ctx: int,
    n_threads: int | None,
    n_batch: int,
    n_ubatch: int | None = None,
    n_gpu_layers: int = 0,
    flash_attn: bool = False,
    kv_type: int | None = None,
    n_seq_max: int = 1,
) -> llama_cpp.Llama:
    """Load ``path``; ``n_ctx`` is per sequence (the context holds ``n_seq_max`` of them).

    A lone sequence (``n_seq_max`` 1) gets a scratch sequence beside it in one
    unified cache (``SCRATCH_CELLS`` more cells): copying a prefix to it only tags
    the cells, so a verify batch's near-tie row can be decoded alone without
    dropping the batch's later rows. Measured on Qwen2.5-Coder-0.5B: the logits
    of a prompt, of a 64-row batch and of a decode after it are bit-identical
    to a lone non-unified context's, and the aside decode equals truncating and
    decoding the row alone (17 ms against the 290 ms of re-verifying the rest).
    """
    lone = n_seq_max == 1
    return loader.load_llama(
        path,
        n_ctx=n_ctx + SCRATCH_CELLS if lone else n_ctx * n_seq_max,
        n_batch=n_batch,
        n_ubatch=n_ubatch,
        n_threads=n_threads,
        n_seq_max=SCRATCH_SEQ + GROUP_MAX if lone else n_seq_max,
        # each batched sequence has its own KV stream: its cells never move when
        # another grows or is cleared
        kv_unified=lone,
        n_gpu_layers=n_gpu_layers,
        flash_attn=flash_attn,
        kv_type=kv_type,
        swa_full=True,  # sliding-window layers must keep every position to allow rollback
    )


class Session:
    """One KV sequence of a llama context and the tokens it holds.

    Alone (``scheduler`` None) it owns sequence 0 and calls ``llama_decode``
    itself. Under continuous batching each request's session is one sequence of
    a shared context, and :meth:`decode` hands its tokens to the
    :class:`redline.engine.batch.Scheduler`, which decodes every waiting
    sequence's tokens in one batch and gives this session a copy of its rows.
    """

    def __init__(
        self,
        llm: llama_cpp.Llama,
        n_batch: int,
        *,
        seq_id: int = 0,
        scheduler: Scheduler | None = None,
        shared: Session | None = None,
    ) -> None:
        self.llm = llm
        self.ctx = llm._ctx.ctx
        self.vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.scratch = SCRATCH_SEQ if scheduler is None else None
        """The sequence :meth:`decode_aside` uses (a lone session's; none when batched)."""
        n_ctx_seq = llama_cpp.llama_n_ctx_seq(self.ctx)
        self.n_ctx = n_ctx_seq - SCRATCH_CELLS if self.scratch is not None else n_ctx_seq
        """Positions this sequence can hold (the whole context less the scratch cells when
        it is alone)."""
        self.n_swa = llama_cpp.llama_model_n_swa(llm._model.model)  # 0: no sliding window
        self.n_batch = n_batch
        self.seq_id = seq_id
        self.scheduler = scheduler
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1) if scheduler is None else None
        self.tokens: list[int] = []  # tokens whose KV entries are positions 0..len-1
        self._rows: np.ndarray | None = None  # batched: this session's rows of the last decode
        self._piece_buf = ctypes.create_string_buffer(64)
        self._shared = shared  # the session that builds the closers' masks once for all
        self._closers: tuple[np.ndarray, ...] | None = None

    def close(self) -> None:
        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None

    def _kv_lock(self) -> AbstractContextManager[object]:
        """Held while this sequence's KV cells change: the scheduler may be decoding."""
        return self.scheduler.lock if self.scheduler is not None else nullcontext()

    # -- KV cache -------------------------------------------------------------
    def truncate(self, n: int) -> None:
        """Drop KV entries at positions >= n (roll back a rejected draft)."""
        if n >= len(self.tokens):
            return
        with self._kv_lock():
            ok = llama_cpp.llama_memory_seq_rm(self.mem, self.seq_id, n, -1)
            if not ok:  # a cache that cannot cut in the middle: start over
                llama_cpp.llama_memory_seq_rm(self.mem, self.seq_id, 0, -1)
                self.tokens = []
                return
        del self.tokens[n:]

    def reuse_prefix(self, prompt: Sequence[int]) -> int:
        """Keep the longest common prefix with ``prompt``; return how many tokens it saves.

        At least the prompt's last token is always evaluated again, because its
        logits are needed to choose the first output token.
        """
        self.truncate(common_prefix(self.tokens, prompt[:-1]))
        return len(self.tokens)

    def save_state(self) -> bytearray:
        """A copy of this sequence's KV cells (what :meth:`load_state` puts back)."""
        with self._kv_lock():
            size = llama_cpp.llama_state_seq_get_size(self.ctx, self.seq_id)
            data = bytearray(size)
            n = llama_cpp.llama_state_seq_get_data(
                self.ctx, (ctypes.c_uint8 * size).from_buffer(data), size, self.seq_id
            )
        del data[n:]
        return data

    def load_state(self, data: bytearray, tokens: Sequence[int]) -> bool:
        """Replace this sequence's KV cells with a saved one holding ``tokens``; False if
        refused (the sequence is then empty, which is always consistent).

        Alone, the whole memory is cleared first so the cells land at the indices
        they were computed in: attention sums over cells in index order, and a
        shifted layout rounds differently (enough to flip a near-tie argmax on
        Gemma). A batched sequence has its own KV stream, emptied the same way.
        """
        with self._kv_lock():
            if self.scheduler is None:
                llama_cpp.llama_memory_clear(self.mem, True)
            else:
                llama_cpp.llama_memory_seq_rm(self.mem, self.seq_id, 0, -1)
            self.tokens = []
            n = llama_cpp.llama_state_seq_set_data(
                self.ctx, (ctypes.c_uint8 * len(data)).from_buffer(data), len(data), self.seq_id
            )
            if n == 0:
                llama_cpp.llama_memory_seq_rm(self.mem, self.seq_id, 0, -1)
                return False
        self.tokens = list(tokens)
        return True

    # -- decoding -------------------------------------------------------------
    def decode(self, tokens: Sequence[int], *, all_logits: bool) -> None:
        """Append ``tokens`` to the KV cache; logits for every one, or only the last."""
        if len(self.tokens) + len(tokens) > self.n_ctx:
            raise ContextOverflowError(
                f"context full: {len(self.tokens) + len(tokens)} tokens > n_ctx {self.n_ctx}"
            )
        if self.scheduler is not None:
            # the scheduler extends self.tokens as the pieces are decoded
            self._rows = self.scheduler.decode(self, list(tokens), all_logits=all_logits)
            return
        for start in range(0, len(tokens), self.n_batch):
            part = tokens[start : start + self.n_batch]
            last_part = start + self.n_batch >= len(tokens)
            self._fill(part, all_logits=all_logits, last_logits=last_part)
            rc = llama_cpp.llama_decode(self.ctx, self.batch)
            if rc != 0:
                raise RedlineError(f"llama_decode failed with code {rc}")
            self.tokens.extend(part)

    def decode_aside(self, pos: int, token: int) -> int:
        """The argmax after ``token`` decoded alone at ``pos``, on this sequence's
        first ``pos`` cells, leaving this sequence's own cells as they are.

        The prefix is copied to the scratch sequence (a unified cache only tags
        cells), the token decoded there, and the scratch emptied again. A verify
        batch's near-tie row is settled this way, as plain decoding computes it,
        while the batch's later rows stay for the next comparisons.
        """
        if self.scratch is None or self.batch is None:
            raise RedlineError("decode_aside needs a lone session")
        b = self.batch
        llama_cpp.llama_memory_seq_cp(self.mem, self.seq_id, self.scratch, 0, pos)
        try:
            b.n_tokens = 1
            b.token[0] = token
            b.pos[0] = pos
            b.n_seq_id[0] = 1
            b.seq_id[0][0] = self.scratch
            b.logits[0] = True
            rc = llama_cpp.llama_decode(self.ctx, b)
            if rc != 0:
                raise RedlineError(f"llama_decode failed with code {rc}")
            return int(np.argmax(self.last_logits()))
        finally:
            llama_cpp.llama_memory_seq_rm(self.mem, self.scratch, -1, -1)

    def _fill(self, part: Sequence[int], *, all_logits: bool, last_logits: bool) -> None:
        b = self.batch
        pos0 = len(self.tokens)
        n = len(part)
        b.n_tokens = n
        for i, tok in enumerate(part):
            b.token[i] = tok
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = self.seq_id
            b.logits[i] = all_logits
        if not all_logits:
            b.logits[n - 1] = last_logits

    def logits(self, rows: int) -> np.ndarray:
        """The last decode's logits as a (rows, n_vocab) array (alone: a view, no copy)."""
        if self._rows is not None:
            return self._rows[-rows:]
        ptr = llama_cpp.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(rows, self.n_vocab))

    def last_logits(self) -> np.ndarray:
        if self._rows is not None:
            return self._rows[-1]
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    # -- tokens ---------------------------------------------------------------
    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def closers(self) -> tuple[np.ndarray, ...]:
        """Token masks for closing JSON, best first inside and outside a string.

        Inside: ends the string and then only closes (``"``, ``"}``, ``"]}``),
        then any token with a quote. Outside: only closes (``}``, ``]}``), then
        any ``]``/``}`` without a quote; and the end-of-generation tokens.
        A backslash disqualifies (an escaped quote stays in its string). Built
        once, on first use (a pass over the vocabulary).
        """
        if self._shared is not None:
            return self._shared.closers()
        if self._closers is None:
            masks = [np.zeros(self.n_vocab, dtype=bool) for _ in range(5)]
            quote_close, quote_any, pure_close, bracket_any, ends = masks
            for tok in range(self.n_vocab):
                text = self.piece(tok)
                ends[tok] = self.is_eog(tok)
                if b"\\" in text:
                    continue
                head, quote, tail = text.partition(b'"')
                if quote:
                    quote_any[tok] = True
                    quote_close[tok] = not tail.strip(b" \n\t]}")
                elif b"]" in text or b"}" in text:
                    bracket_any[tok] = True
                    pure_close[tok] = not text.strip(b" \n\t]}")
            self._closers = tuple(masks)
        return self._closers

    def piece(self, token: int) -> bytes:
        buf = self._piece_buf
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]
