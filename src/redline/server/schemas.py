"""Request bodies of the OpenAI endpoints, as pydantic models.

They are the server's OpenAPI schema too (what schemathesis fuzzes), so the
shapes are written out rather than left as ``dict``. Unknown fields are ignored,
as OpenAI's newer clients send fields an older server does not know.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_LOOSE = ConfigDict(extra="ignore")


class TextPart(BaseModel):
    model_config = _LOOSE
    type: Literal["text"] = "text"
    text: str


class Message(BaseModel):
    """One chat turn. ``content`` may be a string or a list of text parts."""

    model_config = _LOOSE
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class FunctionDef(BaseModel):
    model_config = _LOOSE
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(BaseModel):
    model_config = _LOOSE
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedToolChoice(BaseModel):
    model_config = _LOOSE
    type: Literal["function"] = "function"
    function: dict[str, str]


class JsonSchemaSpec(BaseModel):
    model_config = _LOOSE
    name: str = "response"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = _LOOSE
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class Prediction(BaseModel):
    """OpenAI Predicted Outputs: text the reply will mostly repeat (an edited file)."""

    model_config = _LOOSE
    type: Literal["content"] = "content"
    content: str | list[TextPart]


class StreamOptions(BaseModel):
    model_config = _LOOSE
    include_usage: bool = False


class _Sampling(BaseModel):
    """Fields shared by chat and text completions."""

    model_config = _LOOSE
    model: str = Field(examples=["smollm2-135m"])
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    user: str | None = None


class ChatCompletionRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    prediction: Prediction | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    suffix: str | None = None
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=5)
    best_of: int | None = Field(default=None, ge=1)


def text_of(content: str | list[TextPart] | None) -> str:
    """Plain text of a content field (string or list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content)
