"""Plain decoding through llama.cpp samplers: grammars and temperature.

Used when output must match a grammar or be sampled at temperature > 0; greedy
unconstrained generation never comes here (it takes numpy argmax, which the
speculative verifier shares).

Greedy decoding under a grammar checks the model's own argmax against the
grammar first and only constrains the whole vocabulary when that token is not
allowed (llama.cpp's ``common_sampler`` does the same). Applying a grammar to
every candidate costs more than the model's forward pass on small models (tens
of milliseconds over a 49k-262k vocabulary); most tokens of a JSON tool call
are what the model wanted anyway. The result is exactly the constrained argmax:
if the argmax is allowed, no allowed token scores higher.
"""

from __future__ import annotations

import ctypes
import math

import llama_cpp
import numpy as np

from redline.engine.llama import Session
from redline.engine.types import GenerationRequest
from redline.errors import InvalidRequestError

_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class Sampler:
    """A grammar (optional) and a llama.cpp sampler chain over the last logits.

    ``sample()`` picks the next token and records it in the grammar's state.
    """

    def __init__(
        self,
        session: Session,
        chain: llama_cpp.llama_sampler_p,
        grammar: llama_cpp.llama_sampler_p | None,
        greedy: bool,
    ) -> None:
        self.session = session
        self.chain = chain
        self.grammar = grammar
        self.greedy = greedy
        self.fast = True
        """Try the unconstrained argmax first (greedy only); off, every step constrains all."""
        self.fast_hits = 0
        """Tokens whose unconstrained argmax the grammar allowed (for tests and tuning)."""
        self._one = llama_cpp.llama_token_data()
        self._one_arr = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self._one), size=1, selected=-1, sorted=False
        )
        self._cands: np.ndarray | None = None  # built on the first fully constrained step

    @classmethod
    def for_request(cls, req: GenerationRequest, session: Session) -> Sampler:
        grammar = None
        if req.grammar:
            grammar = llama_cpp.llama_sampler_init_grammar(
                session.vocab, req.grammar.encode("utf-8"), b"root"
            )
            if not grammar:
                raise InvalidRequestError("the grammar could not be parsed", param="grammar")
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        greedy = req.temperature <= 0
        if greedy:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            seed = req.seed if req.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED
            llama_cpp.llama_sampler_chain_add(
                chain, llama_cpp.llama_sampler_init_top_p(req.top_p, 1)
            )
            llama_cpp.llama_sampler_chain_add(
                chain, llama_cpp.llama_sampler_init_temp(req.temperature)
            )
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
        return cls(session, chain, grammar, greedy)

    def _allowed(self, token: int) -> bool:
        """Whether the grammar accepts ``token`` next (checks one candidate only)."""
        assert self.grammar is not None
        self._one.id, self._one.logit, self._one.p = token, 0.0, 0.0
        self._one_arr.selected = -1
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self._one_arr))
        return math.isfinite(self._one.logit)

    def sample(self) -> int:
        if self.grammar is None:
            return int(llama_cpp.llama_sampler_sample(self.chain, self.session.ctx, -1))
        logits = self.session.last_logits()
        if self.greedy and self.fast:
            token = int(np.argmax(logits))
            if self._allowed(token):
                self.fast_hits += 1
                llama_cpp.llama_sampler_accept(self.grammar, token)
                return token
        # Constrain every candidate, then choose among what the grammar allows.
        if self._cands is None:
            self._cands = np.empty(len(logits), dtype=_TOKEN_DATA)
        cands = self._cands
        cands["id"] = np.arange(len(logits), dtype=np.int32)  # the chain may reorder them
        cands["logit"] = logits
        cands["p"] = 0.0
        arr = llama_cpp.llama_token_data_array(
            data=cands.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=len(cands),
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        if self.greedy:
            token = int(cands["id"][int(np.argmax(cands["logit"]))])
        else:
            llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(arr))
            token = int(cands["id"][arr.selected])
            llama_cpp.llama_sampler_accept(self.chain, token)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        return token

    def close(self) -> None:
        if self.chain is not None:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None
