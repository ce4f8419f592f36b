"""Plain decoding through llama.cpp's sampler chain: grammars and temperature.

Used when output must match a grammar or be sampled at temperature > 0; greedy
unconstrained generation never comes here (it takes numpy argmax, which the
speculative verifier shares).
"""

from __future__ import annotations

import llama_cpp

from redline.engine.llama import Session
from redline.engine.types import GenerationRequest
from redline.errors import InvalidRequestError


class Sampler:
    """A llama.cpp sampler chain; ``sample()`` reads the last logits and accepts the token."""

    def __init__(self, session: Session, chain: llama_cpp.llama_sampler_p) -> None:
        self.session = session
        self.chain = chain

    @classmethod
    def for_request(cls, req: GenerationRequest, session: Session) -> Sampler:
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if req.grammar:
            g = llama_cpp.llama_sampler_init_grammar(
                session.vocab, req.grammar.encode("utf-8"), b"root"
            )
            if not g:
                llama_cpp.llama_sampler_free(chain)
                raise InvalidRequestError("the grammar could not be parsed", param="grammar")
            llama_cpp.llama_sampler_chain_add(chain, g)
        if req.temperature > 0:
            seed = req.seed if req.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED
            llama_cpp.llama_sampler_chain_add(
                chain, llama_cpp.llama_sampler_init_top_p(req.top_p, 1)
            )
            llama_cpp.llama_sampler_chain_add(
                chain, llama_cpp.llama_sampler_init_temp(req.temperature)
            )
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
        else:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return cls(session, chain)

    def sample(self) -> int:
        return int(llama_cpp.llama_sampler_sample(self.chain, self.session.ctx, -1))

    def close(self) -> None:
        if self.chain is not None:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
