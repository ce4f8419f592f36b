"""The local inference engine: one model, one KV cache, streaming generation.

Greedy generation with a ``prediction`` is speculative: drafts from the
predicted output (or, opt-in, from n-grams of the prompt) are verified in one
batch and the longest prefix that agrees with the model's own argmax is kept,
so the output is what plain greedy decoding gives, only sooner, up to one caveat:
llama.cpp's batch kernels are not the one-row kernels, so at a near tie a batch
row's argmax can differ from plain decoding's. Rows within ``tie_margin`` of a
tie are therefore decoded alone beside the sequence (``docs/engine.md``,
*Exactness*, says what this does and does not guarantee). A measured gate
pauses drafting while it runs slower than plain decoding. Greedy decoding under
a grammar (tool calls, JSON) verifies drafts too, taking each row's
grammar-constrained argmax. Sampling with temperature > 0 falls back to plain
one-token decoding through llama.cpp's sampler chain (no speculative sampling
rule is used).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np

from redline.config import load_settings
from redline.engine.batch import (
    Scheduler,
    available_memory,
    check_memory,
    kv_cache_bytes,
)
from redline.engine.chat import ChatTemplate
from redline.engine.drafts import (
    AdaptiveK,
    Drafter,
    NgramDrafter,
    PredictionDrafter,
    SpeedGate,
)
from redline.engine.group import SequenceGroup, check_n, member_request, merge
from redline.engine.inspect import model_info, vocab_has_fim
from redline.engine.llama import Session, load_session_model
from redline.engine.loader import default_threads
from redline.engine.models import check_gguf, resolve_model
from redline.engine.offload import decide as decide_offload
from redline.engine.offload import model_shape
from redline.engine.profile import DEFAULT as DEFAULT_PROFILE
from redline.engine.profile import KV_TYPES, EngineProfile, profile_for
from redline.engine.prompt_cache import PromptCache
from redline.engine.sampling import Sampler, looping
from redline.engine.sites import draft_stops, hot_lines, request_words
from redline.engine.text import StopScanner, common_prefix
from redline.engine.types import Chunk, FinishReason, GenerationRequest, ModelInfo, Timings
from redline.errors import CancelledError, ContextOverflowError, InvalidRequestError

DEFAULT_N_CTX = 8192
DEFAULT_TIE_MARGIN = 1.0
TIE_MARGINS = {"qwen2.5-coder-0.5b": 0.5}
"""Near-tie margins of models whose batch rows were measured to stay closer to
one-token decoding than ``DEFAULT_TIE_MARGIN`` needs. The margin only has to
exceed how far a batch moves a row's top-two gap: on Qwen2.5-Coder-0.5B here at
most 0.36 over 1280 rows of the edit benchmark's texts (99th percentile 0.22);
on the 1.5B 0.79 (it keeps 1.0). ``redline bench edit`` measures it again each
run (``gap_drift``); ``REDLINE_TIE_MARGIN`` overrides both."""


def tie_margin_for(model: str) -> float:
    """The near-tie margin for ``model`` (``REDLINE_TIE_MARGIN``, else measured, else 1.0)."""
    env = os.environ.get("REDLINE_TIE_MARGIN")
    if env:
        return float(env)
    return TIE_MARGINS.get(model, DEFAULT_TIE_MARGIN)


ROW_TILE = 4
"""Verify batches are cut to a multiple of this many rows, and a draft too short
for one is not sent. On the CPU here a batch's rows cost least in fours
(Qwen2.5-Coder-0.5B: 64 rows 300 ms, 65 rows 340 ms; 16 rows 95 ms, 15 rows
118 ms), and below four rows a batch costs as much as its rows decoded one by one
or more (2 rows 41 ms, one token 17 ms). The rows cut off are drafted next step."""
CLOSE_MARGIN = 24
"""Budget tokens left at which a grammar-constrained reply starts closing its JSON
(a quarter of the budget when that is less)."""


class Engine:
    """A loaded GGUF model with a persistent KV cache (prefix reuse across calls)."""

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_batch: int | None = None,
        gpu_layers: str | int | None = None,
        profile: EngineProfile | None = None,
        parallel: int = 1,
    ) -> None:
        """``parallel`` > 1: that many requests decode together (continuous batching,
        :mod:`redline.engine.batch`), each on its own KV sequence of ``n_ctx`` positions."""
        if parallel < 1:
            raise InvalidRequestError("parallel must be at least 1", param="parallel")
        self.name, self.path = resolve_model(model)
        check_gguf(self.path)
        self.profile = profile or profile_for(self.name) or DEFAULT_PROFILE
        """This machine's tuned settings for the model (``redline tune``), else defaults."""
        n_batch = n_batch or self.profile.n_batch
        self.n_threads = n_threads or self.profile.threads or default_threads()
        if gpu_layers is None:
            gpu_layers = load_settings().gpu_layers
            if gpu_layers == "auto" and self.profile.gpu_layers is not None:
                gpu_layers = self.profile.gpu_layers  # measured beats estimated
        self.offload = decide_offload(Path(self.path), n_ctx * parallel, gpu_layers)
        """Where the layers went, and why (``redline serve`` logs it)."""
        self.parallel = parallel
        if parallel > 1:
            self.kv_bytes = kv_cache_bytes(
                model_shape(Path(self.path)).kv_bytes_per_token,
                n_ctx,
                parallel,
                self.profile.kv_type,
            )
            check_memory(
                kv_bytes=self.kv_bytes,
                weights_bytes=0 if self.offload.on_gpu else Path(self.path).stat().st_size,
                parallel=parallel,
                available=available_memory(),
            )
        self.llm = load_session_model(
            self.path,
            n_ctx=n_ctx,
            n_threads=self.n_threads,
            n_batch=n_batch,
            n_ubatch=min(self.profile.n_ubatch or n_batch, n_batch),
            n_gpu_layers=self.offload.layers,
            flash_attn=self.profile.flash_attn,
            kv_type=KV_TYPES[self.profile.kv_type],
            n_seq_max=parallel,
        )
        self.scheduler: Scheduler | None = None
        if parallel == 1:
            self.session = Session(self.llm, n_batch)
            self.sessions = [self.session]
        else:
            vocab = llama_cpp.llama_model_get_vocab(self.llm._model.model)
            self.scheduler = Scheduler(
                self.llm._ctx.ctx, n_batch, llama_cpp.llama_vocab_n_tokens(vocab)
            )
            first = Session(self.llm, n_batch, seq_id=0, scheduler=self.scheduler)
            self.session = first
            self.sessions = [first] + [
                Session(self.llm, n_batch, seq_id=i, scheduler=self.scheduler, shared=first)
                for i in range(1, parallel)
            ]
        self._free = list(self.sessions)
        self._free_cv = threading.Condition()
        self._cache_lock = threading.Lock()
        self.chat = ChatTemplate.from_llama(self.llm)
        self.max_draft = min(self.profile.max_draft, n_batch - 1)
        self.tie_margin = tie_margin_for(self.name)
        self.prompt_cache = PromptCache(whole_only=self.session.n_swa > 0)
        self._lock = threading.Lock()
        self.last_timings: Timings | None = None
        self.group: SequenceGroup | None = None
        """The batched sequences ``n`` > 1 requests run on (a lone engine's, built on first use)."""

    def close(self) -> None:
        """Free the context and the weights now (``redline tune`` loads many in turn)."""
        if self.scheduler is not None:
            self.scheduler.close()
        if self.group is not None:
            self.group.close()
        for session in self.sessions:
            session.close()
        self.llm.close()

    # -- model facts ------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self.session.n_ctx

    @property
    def has_fim(self) -> bool:
        return vocab_has_fim(self.session.vocab)

    def info(self) -> ModelInfo:
        return model_info(self.name, Path(self.path), self.llm)

    # -- tokens -----------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.session.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        return self.chat.render(messages, add_generation_prompt=add_generation_prompt)

    def prompt_tokens(self, req: GenerationRequest) -> list[int]:
        """The exact tokens a request evaluates (chat template, FIM layout or raw)."""
        if (req.prompt is None) == (req.messages is None):
            raise InvalidRequestError("give exactly one of prompt or messages")
        if req.messages is not None:
            text = self.render_chat(req.messages, req.add_generation_prompt)
            return self.chat.tokenize_rendered(self.llm, text)
        assert req.prompt is not None
        if req.suffix is not None:
            return self._fim_tokens(req.prompt, req.suffix)
        return self.tokenize(req.prompt, add_bos=self.chat.add_bos, special=False)

    def _fim_tokens(self, prefix: str, suffix: str) -> list[int]:
        if not self.has_fim:
            raise InvalidRequestError(
                f"model {self.name} has no fill-in-the-middle tokens; `suffix` is not supported",
                param="suffix",
            )
        v = self.session.vocab
        bos = [llama_cpp.llama_vocab_bos(v)] if self.chat.add_bos else []
        return [
            *bos,
            llama_cpp.llama_vocab_fim_pre(v),
            *self.tokenize(prefix),
            llama_cpp.llama_vocab_fim_suf(v),
            *self.tokenize(suffix),
            llama_cpp.llama_vocab_fim_mid(v),
        ]

    # -- generation -------------------------------------------------------------
    def generate(self, req: GenerationRequest) -> Iterator[Chunk]:
        """Stream a generation. ``parallel`` at a time per engine (one by default): a
        sequence is held until the iterator ends or is closed, so callers must exhaust
        or ``close()`` it."""
        _validate(req)
        tokens = self.prompt_tokens(req)
        if req.messages is not None and not self.chat.native:
            # The plain transcript layout of template-less models ends a turn at "User:".
            req = dataclasses.replace(req, stop=[*req.stop, *self.chat.stop])
        if req.n > 1:
            if self.scheduler is not None:
                raise InvalidRequestError(
                    "n > 1 needs an engine without --parallel (its prompt copy is free only "
                    "in a lone engine's unified cache)",
                    param="n",
                )
            with self._lock:
                yield from self._run_group(req, tokens)
            return
        if self.scheduler is None:
            with self._lock:
                yield from self._run(req, tokens, self.session)
            return
        session = self._checkout(tokens)
        try:
            yield from self._run(req, tokens, session)
        finally:
            self.scheduler.stop(session)
            with self._free_cv:
                self._free.append(session)
                self._free_cv.notify()

    def _checkout(self, prompt: list[int]) -> Session:
        """A free sequence, the one whose cache shares the most with ``prompt`` (as
        llama-server picks a slot), waiting for one when all are busy."""
        with self._free_cv:
            while not self._free:
                self._free_cv.wait()
            best = max(self._free, key=lambda s: common_prefix(s.tokens, prompt))
            self._free.remove(best)
            return best

    @property
    def busy(self) -> int:
        """Sequences generating now."""
        return len(self.sessions) - len(self._free)

    def complete(self, req: GenerationRequest) -> tuple[str, Timings, FinishReason]:
        """Run a generation to the end; return text, timings and finish reason."""
        parts: list[str] = []
        last = Chunk("")
        for chunk in self.generate(req):
            parts.append(chunk.text)
            last = chunk
        assert last.timings is not None and last.finish_reason is not None
        return "".join(parts), last.timings, last.finish_reason

    def complete_n(self, req: GenerationRequest) -> list[tuple[str, Timings, FinishReason]]:
        """Run all ``req.n`` continuations to the end: text, timings and finish reason
        of each, in index order."""
        parts: list[list[str]] = [[] for _ in range(req.n)]
        ends: list[Chunk | None] = [None] * req.n
        for chunk in self.generate(req):
            parts[chunk.index].append(chunk.text)
            if chunk.finish_reason is not None:
                ends[chunk.index] = chunk
        out = []
        for texts, end in zip(parts, ends, strict=True):
            assert end is not None and end.timings is not None and end.finish_reason is not None
            out.append(("".join(texts), end.timings, end.finish_reason))
        return out

    def _run_group(self, req: GenerationRequest, prompt: list[int]) -> Iterator[Chunk]:
        """``req.n`` continuations of ``prompt``: evaluated once on the lone sequence,
        copied to the others, decoded together (:mod:`redline.engine.group`). Each
        continuation gets an equal share of the context (``max_tokens`` at most).
        Continuation 0's timings are the prompt's; the others' count the prompt as
        cached (copied, not evaluated)."""
        t0 = time.perf_counter()
        s = self.session
        n = req.n
        first = self._prefill(prompt, s, t0, n)
        max_tokens = min(req.max_tokens, (s.n_ctx - len(prompt)) // n)
        if self.group is None:
            self.group = SequenceGroup(s)
        group = self.group
        members = group.fan_out(n)
        stop = threading.Event()

        def member(i: int) -> Iterator[Chunk]:
            tm = first
            if i:
                tm = Timings(prompt_tokens=len(prompt), cached_tokens=len(prompt))
                tm.prompt_s = first.prompt_s
            r = member_request(req, i, stop)
            return self._continue(r, prompt, max_tokens, tm, t0, members[i])

        try:
            yield from merge([functools.partial(member, i) for i in range(n)], stop, req.cancel)
        finally:
            group.release(members, len(prompt))
            self.last_timings = first

    def _continue(
        self,
        req: GenerationRequest,
        prompt: list[int],
        max_tokens: int,
        tm: Timings,
        t0: float,
        s: Session,
    ) -> Iterator[Chunk]:
        """Decode after an evaluated prompt: greedy by the numpy argmax, through
        llama.cpp's sampler chain where the request needs one (a grammar, temperature > 0).
        A batched sequence leaves the scheduler when it ends (the next batches stop
        waiting for it)."""
        sampler = Sampler.for_request(req, s) if (req.grammar or req.temperature > 0) else None
        try:
            yield from self._loop(req, prompt, max_tokens, sampler, tm, t0, s)
        finally:
            if sampler is not None:
                sampler.close()
            tm.total_s = time.perf_counter() - t0
            if s.scheduler is not None:
                s.scheduler.stop(s)

    def _run(self, req: GenerationRequest, prompt: list[int], s: Session) -> Iterator[Chunk]:
        t0 = time.perf_counter()
        tm = self._prefill(prompt, s, t0)
        try:
            yield from self._continue(
                req, prompt, min(req.max_tokens, s.n_ctx - len(prompt)), tm, t0, s
            )
        finally:
            self.last_timings = tm

    def _prefill(self, prompt: list[int], s: Session, t0: float, n: int = 1) -> Timings:
        """Evaluate ``prompt`` on ``s`` after what its cache already holds; the prompt's
        timings. Refused when the context cannot hold it and ``n`` tokens after it."""
        if len(prompt) + n > s.n_ctx:
            more = f", too small for {n} continuations" if n > 1 else ""
            raise ContextOverflowError(
                f"prompt has {len(prompt)} tokens; model {self.name} context is {s.n_ctx}{more}"
            )
        tm = Timings(prompt_tokens=len(prompt))
        tm.cached_tokens = self._reuse(prompt, tm, s)
        try:
            s.decode(prompt[tm.cached_tokens :], all_logits=False)
        except BaseException:
            s.truncate(tm.cached_tokens)
            raise
        tm.prompt_s = time.perf_counter() - t0
        return tm

    def _reuse(self, prompt: list[int], tm: Timings, s: Session) -> int:
        """Keep what the KV cache shares with ``prompt``, after swapping in a saved
        state that shares more; the live cache is saved first if it would be lost."""
        cache = self.prompt_cache
        if cache.enabled:
            with self._cache_lock:  # one cache for every sequence
                self._swap_in(prompt, tm, s)
        return s.reuse_prefix(prompt)

    def _swap_in(self, prompt: list[int], tm: Timings, s: Session) -> None:
        cache = self.prompt_cache
        head = prompt[:-1]  # the last prompt token is always evaluated again
        live = common_prefix(s.tokens, head)
        n, saved = cache.best(head, live)
        if cache.worth_saving(s.tokens, live if saved is None else 0):
            cache.put(s.tokens, s.save_state())
        if saved is not None and s.load_state(saved.data, saved.tokens):
            tm.restored_tokens = n

    def _loop(
        self,
        req: GenerationRequest,
        prompt: list[int],
        max_tokens: int,
        sampler: Sampler | None,
        tm: Timings,
        t0: float,
        s: Session,
    ) -> Iterator[Chunk]:
        # Greedy replies draft, under a grammar too (the grammar checks each verified row).
        drafter = self._drafter(req, prompt) if sampler is None or sampler.can_verify else None
        if isinstance(drafter, PredictionDrafter) and drafter.stops is not None:
            # The named lines cut the drafts where the reply is likely to change, so
            # the length stays at the most (short drafts pay ~35 ms a batch for little).
            k = AdaptiveK(start=self.max_draft, lo=self.max_draft, hi=self.max_draft)
        else:
            k = AdaptiveK(start=16 if req.prediction else 4, lo=ROW_TILE - 1, hi=self.max_draft)
        cooldown, skip = 0, 0
        gate = SpeedGate(pause=self.profile.gate_pause, warmup=2 if req.prediction else 1)
        scanner = StopScanner(list(req.stop))
        # A greedy reply in an exact loop would repeat it to the token limit (the same
        # context picks the same next token): a grammar-constrained one closes its JSON
        # early (see sampling), a plain one stops at once ("length", looped). The test is
        # strict (64+ tokens, 4+ exact repeats, see sampling.looping); code that writes a
        # long literal of one value (`[0, 0, 0, ...` past ~36 items) would trip it.
        written: list[int] | None = [] if sampler is None or sampler.grammar else None
        margin = min(CLOSE_MARGIN, max_tokens // 4)
        pending = [self._pick(sampler, max_tokens, margin, s)]
        first_at: float | None = None
        finish: FinishReason | None = None
        while True:
            # 1. emit what has been decided
            out_tokens: list[int] = []
            text = ""
            for tok in pending:
                if s.is_eog(tok):
                    # A grammar closed early to fit the budget: the content was cut.
                    finish = "length" if sampler is not None and sampler.steered else "stop"
                    break
                tm.completion_tokens += 1
                out_tokens.append(tok)
                piece, stopped = scanner.feed(s.piece(tok))
                text += piece
                if drafter is not None:
                    drafter.observe(tok)
                if written is not None:
                    written.append(tok)
                    if len(written) % 8 == 0 and looping(written):
                        if sampler is None:
                            tm.looped = True
                            finish = "length"
                            break
                        if not sampler.closing:
                            sampler.closing = sampler.steered = True  # a loop, cut off
                            tm.looped = True
                if stopped:
                    finish = "stop"
                    break
                if tm.completion_tokens >= max_tokens:
                    finish = "length"
                    break
            if finish is None and req.cancel is not None and req.cancel.is_set():
                finish = "cancelled"
            if finish is not None:
                if finish != "stop":
                    text += scanner.flush()
                now = time.perf_counter()
                if first_at is None:
                    first_at = now
                    tm.ttft_s = now - t0
                tm.decode_s = now - first_at
                tm.total_s = now - t0
                yield Chunk(text, out_tokens, finish_reason=finish, timings=tm)
                return
            if first_at is None:
                first_at = time.perf_counter()
                tm.ttft_s = first_at - t0
            if text or out_tokens:
                yield Chunk(text, out_tokens)
            # 2. decode the last decided token, with a draft to verify if we have one
            last = pending[-1]
            room = min(max_tokens - tm.completion_tokens, s.n_ctx - len(s.tokens) - 2)
            if sampler is not None:  # drafts stay clear of the closing margin
                room = room - margin - 1 if sampler.can_verify else 0
            draft: list[int] = []
            if drafter is not None and room > 0:
                if skip:
                    skip -= 1
                elif gate.allow():
                    draft = tile_draft(drafter.draft(min(k.k, room)))
            step = time.perf_counter()
            if not draft:
                s.decode([last], all_logits=False)
                pending = [self._pick(sampler, max_tokens - tm.completion_tokens, margin, s)]
                gate.plain_step(time.perf_counter() - step)
                continue
            base = len(s.tokens)
            s.decode([last, *draft], all_logits=True)
            rows = s.logits(len(draft) + 1)
            if sampler is None:
                accepted, model_tok, agreed = self._verify(s, base, [last, *draft], rows)
            else:
                accepted, model_tok = sampler.verify(rows, draft)
                s.truncate(base + 1 + accepted)
                agreed = accepted
            pending = [*draft[:accepted], model_tok]
            gate.spec_step(len(pending), time.perf_counter() - step)
            tm.drafted_tokens += len(draft)
            tm.accepted_tokens += agreed
            tm.verify_batches += 1
            k.update(len(draft), agreed)
            if agreed == 0:
                cooldown = min(max(1, cooldown * 2), 4 if req.prediction else 16)
                skip = cooldown
            else:
                cooldown = 0

    def _verify(
        self, s: Session, base: int, batch: list[int], rows: np.ndarray
    ) -> tuple[int, int, int]:
        """Greedy verification of the batch ``[last, *draft]`` decoded at ``base``:
        ``(accepted, the model's next token, drafted tokens the model agreed with)``,
        the KV cache cut after the last accepted one.

        A near-tie row is not trusted from a batch (its first row included): its
        input token is decoded alone, as plain decoding computes it. A lone session
        does that aside (:meth:`Session.decode_aside`) and, when the lone decode
        keeps the draft's token, goes on through the batch's later rows; batched
        sessions truncate there, and the rows after the tie are lost.
        """
        draft = batch[1:]
        best, tie = row_choices(rows, self.tie_margin)  # before an aside decode reuses rows
        accepted, model_tok = first_miss(best, tie, draft)
        while model_tok is None and s.scratch is not None:
            alone = s.decode_aside(base + accepted, batch[accepted])
            if accepted == len(draft) or alone != draft[accepted]:
                model_tok = alone
            else:
                more, model_tok = first_miss(
                    best[accepted + 1 :], tie[accepted + 1 :], draft[accepted + 1 :]
                )
                accepted += 1 + more
        if model_tok is not None:
            s.truncate(base + 1 + accepted)
            return accepted, model_tok, accepted
        # batched: no scratch sequence; cut at the tie and decode its row alone there
        s.truncate(base + accepted)
        s.decode([batch[accepted]], all_logits=False)
        model_tok = self._pick(None, 0, 0, s)
        # A tie settled in the draft's favour is no miss (no pause), but the rows
        # after it were wasted as a miss's are (shorter drafts).
        settled = accepted < len(draft) and model_tok == draft[accepted]
        return accepted, model_tok, accepted + int(settled)

    def _pick(self, sampler: Sampler | None, left: int, margin: int, s: Session) -> int:
        """The next token; ``left`` tokens of the budget remain, this one included.

        With ``margin`` or fewer left, a grammar-constrained reply starts closing."""
        if sampler is not None:
            if sampler.grammar is not None and left <= margin:
                sampler.closing = True  # finish the JSON rather than cut it mid-string
            return sampler.sample()
        return int(np.argmax(s.last_logits()))

    def _drafter(self, req: GenerationRequest, prompt: list[int]) -> Drafter | None:
        if req.prediction:
            pred = self.tokenize(req.prediction)
            stops = None
            if req.messages is not None:
                words = request_words(req.messages, req.prediction)
                pieces = [self.session.piece(t).decode("utf-8", "replace") for t in pred]
                stops = draft_stops(pieces, hot_lines(req.prediction, words))
            return PredictionDrafter(pred, stops=stops)
        if req.quotes:
            return NgramDrafter(self.tokenize(req.quotes))
        if req.speculative:
            return NgramDrafter(prompt)
        return None


def tile_draft(draft: list[int], tile: int = ROW_TILE) -> list[int]:
    """``draft`` cut so that its verify batch (the last token and the draft) is a
    whole number of ``tile`` rows; none when that is under one tile."""
    keep = (len(draft) + 1) // tile * tile - 1
    return draft[:keep] if keep > 0 else []


def verify_draft(logits: np.ndarray, draft: list[int], margin: float) -> tuple[int, int | None]:
    """Accept the longest prefix of ``draft`` that matches the argmax of each row.

    Returns ``(accepted, model_token)``; ``model_token`` is the model's own
    token after the accepted prefix, or None when that row is a near tie
    (top-two logits within ``margin``; acceptance stops at the first one).
    """
    return first_miss(*row_choices(logits, margin), draft)


def row_choices(logits: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's argmax, and whether it is a near tie (top two within ``margin``).

    llama.cpp computes a batch's rows with other kernels than one-token
    decoding, the first row too: an 8-row batch's first row differs by 0.34
    logits on SmolLM2 and 1.8 on Gemma 3 here. Only where the top two are close
    can that flip the argmax; such a row is left for the caller to decode
    alone, as plain decoding computes it.
    """
    rows = logits.shape[0]
    best = np.argmax(logits, axis=1)
    top = logits[np.arange(rows), best].copy()
    logits[np.arange(rows), best] = -np.inf  # a view of llama.cpp's buffer, reused next decode
    second = np.max(logits, axis=1)
    return best, (top - second) < margin


def first_miss(best: np.ndarray, tie: np.ndarray, draft: list[int]) -> tuple[int, int | None]:
    """How many of ``draft`` match ``best`` before a mismatch or a near tie, and the
    model's token at that row (None at a near tie)."""
    accepted = 0
    while accepted < len(draft) and not tie[accepted] and int(best[accepted]) == draft[accepted]:
        accepted += 1
    if tie[accepted]:
        return accepted, None
    return accepted, int(best[accepted])


def _validate(req: GenerationRequest) -> None:
    if req.max_tokens < 1:
        raise InvalidRequestError("max_tokens must be at least 1", param="max_tokens")
    if req.temperature < 0:
        raise InvalidRequestError("temperature must be >= 0", param="temperature")
    if not 0 < req.top_p <= 1:
        raise InvalidRequestError("top_p must be in (0, 1]", param="top_p")
    check_n(req.n)
    if req.cancel is not None and req.cancel.is_set():
        raise CancelledError("cancelled before start")


_engines: dict[tuple[str, int, int], Engine] = {}
_engines_lock = threading.Lock()


def get_engine(
    model: str = "smollm2-135m", *, n_ctx: int = DEFAULT_N_CTX, parallel: int = 1
) -> Engine:
    """One engine per model per process: models load once and keep their KV cache."""
    key = (model, n_ctx, parallel)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(model, n_ctx=n_ctx, parallel=parallel)
        return _engines[key]
