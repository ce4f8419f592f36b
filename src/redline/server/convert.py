"""OpenAI request bodies -> engine ``GenerationRequest`` (validation included).

Everything the engine cannot honour truthfully is refused here with a 400
naming the parameter, rather than silently ignored: ``n > 1``, logprobs,
penalties, logit_bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.engine import structured
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


@dataclass
class ChatPlan:
    """A chat request as the engine will run it, and how to read its output back."""

    request: GenerationRequest
    tools: bool
    """The reply is grammar-constrained tool JSON, to be parsed into tool_calls."""


def _check_common(body: _Sampling) -> None:
    if body.n not in (None, 1):
        raise UnsupportedError("only n=1 is supported", param="n")
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
    }


def _message_dict(m: Message) -> dict[str, Any]:
    """A plain chat-template message (tool turns become text: see ``as_text_turn``)."""
    role = "system" if m.role == "developer" else m.role
    if m.role == "tool" or (m.role == "assistant" and m.tool_calls):
        return structured.as_text_turn(
            {
                "role": m.role,
                "content": text_of(m.content),
                "tool_call_id": m.tool_call_id,
                "tool_calls": m.tool_calls,
            }
        )
    return {"role": role, "content": text_of(m.content)}


def chat_plan(body: ChatCompletionRequest, settings: ServerSettings) -> ChatPlan:
    _check_common(body)
    if body.logprobs or body.top_logprobs:
        raise UnsupportedError("logprobs are not supported by this server", param="logprobs")
    messages = [_message_dict(m) for m in body.messages]
    grammar: str | None = None
    tools = [t.model_dump(exclude_none=True) for t in body.tools or []]
    choice: Any = body.tool_choice
    if choice is not None and not isinstance(choice, str):
        choice = choice.model_dump()
    use_tools = bool(tools) and choice != "none"
    if choice not in (None, "none", "auto") and not tools:
        raise InvalidRequestError("tool_choice needs tools", param="tool_choice")
    if use_tools:
        if body.response_format and body.response_format.type != "text":
            raise InvalidRequestError(
                "use either tools or response_format, not both", param="response_format"
            )
        grammar = structured.tools_grammar(tools, choice, body.parallel_tool_calls)
        messages = structured.with_tools_prompt(messages, tools, choice)
    elif body.response_format is not None:
        grammar = structured.response_format_grammar(
            body.response_format.model_dump(by_alias=True, exclude_none=True)
        )
    prediction = text_of(body.prediction.content) if body.prediction else None
    request = GenerationRequest(
        messages=messages,
        prediction=prediction or None,
        grammar=grammar,
        **_sampling(body, settings, body.max_completion_tokens or body.max_tokens),
    )
    return ChatPlan(request=request, tools=use_tools)


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
