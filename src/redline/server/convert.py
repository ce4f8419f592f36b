"""OpenAI request bodies -> engine ``GenerationRequest`` (validation included).

Everything the engine cannot honour truthfully is refused here with a 400
naming the parameter, rather than silently ignored: logprobs, penalties,
logit_bias, an ``n`` past what the engine decodes together.
"""

from __future__ import annotations

from typing import Any

from redline.engine.group import check_n
from redline.engine.turns import TurnPlan, plan_turn
from redline.engine.types import GenerationRequest
from redline.errors import InvalidRequestError
from redline.server.errors import UnsupportedError
from redline.server.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    Message,
    _Sampling,
    text_of,
)
from redline.server.settings import ServerSettings


def _check_common(body: _Sampling) -> None:
    check_n(body.n or 1)
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(body, name):
            raise UnsupportedError(f"{name} is not supported by this server", param=name)
    if body.logit_bias:
        raise UnsupportedError("logit_bias is not supported by this server", param="logit_bias")


def _sampling(body: _Sampling, settings: ServerSettings, max_tokens: int | None) -> dict[str, Any]:
    limit = max_tokens or settings.default_max_tokens
    if settings.max_tokens_cap is not None:
        limit = min(limit, settings.max_tokens_cap)
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > 4:
        raise InvalidRequestError("at most 4 stop sequences are allowed", param="stop")
    temperature = settings.default_temperature if body.temperature is None else body.temperature
    return {
        "max_tokens": limit,
        "temperature": temperature,
        "top_p": 1.0 if body.top_p is None else body.top_p,
        "seed": body.seed,
        "stop": [s for s in stop if s],
        "speculative": settings.prompt_lookup,
        "n": body.n or 1,
    }


def _message_dict(m: Message) -> dict[str, Any]:
    """A chat message as the adapter takes it (``developer`` is the system role)."""
    out: dict[str, Any] = {
        "role": "system" if m.role == "developer" else m.role,
        "content": text_of(m.content),
    }
    if m.tool_calls:
        out["tool_calls"] = m.tool_calls
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def chat_plan(body: ChatCompletionRequest, settings: ServerSettings) -> TurnPlan:
    """The request's turn through the adapter the local provider uses too
    (:mod:`redline.engine.turns`), after the checks only the wire format needs."""
    _check_common(body)
    if body.logprobs or body.top_logprobs:
        raise UnsupportedError("logprobs are not supported by this server", param="logprobs")
    choice: Any = body.tool_choice
    if choice is not None and not isinstance(choice, str):
        choice = choice.model_dump()
    response_format = None
    if body.response_format is not None:
        response_format = body.response_format.model_dump(by_alias=True, exclude_none=True)
    prediction = text_of(body.prediction.content) if body.prediction else None
    return plan_turn(
        [_message_dict(m) for m in body.messages],
        tools=[t.model_dump(exclude_none=True) for t in body.tools or []],
        tool_choice=choice,
        parallel_tool_calls=body.parallel_tool_calls,
        response_format=response_format,
        prediction=prediction or None,
        **_sampling(body, settings, body.max_completion_tokens or body.max_tokens),
    )


def completion_request(body: CompletionRequest, settings: ServerSettings) -> GenerationRequest:
    _check_common(body)
    if body.logprobs:
        raise UnsupportedError("logprobs are not supported by this server", param="logprobs")
    if body.best_of not in (None, 1):
        raise UnsupportedError("only best_of=1 is supported", param="best_of")
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise UnsupportedError("exactly one prompt per request is supported", param="prompt")
        prompt = prompt[0]
    return GenerationRequest(
        prompt=prompt, suffix=body.suffix, **_sampling(body, settings, body.max_tokens)
    )
