"""``redline bench latency``: time to first token, decode and prompt speed, per model.

For each model, in-process (the engine called directly) and through a
``redline serve`` child process (the ``openai`` client over loopback HTTP/SSE):

- *cold* TTFT: a ~2,000-token prompt whose first tokens differ from anything
  cached (a nonce at the very start), so the whole prompt is evaluated;
- *warm* TTFT: the same 2,000-token prefix with a new question after it, so only
  the question is evaluated (the engine's prefix reuse; an agent's turns look
  like this);
- decode tok/s of the answer and prompt tok/s of the cold prompt.

All times are measured by the caller's clock; repeats give a median and range.
"""

from __future__ import annotations

import inspect
import textwrap
import time
import uuid
from collections.abc import Callable
from typing import Any

from redline.bench.results import envelope, spread
from redline.engine.types import GenerationRequest

PREFIX_TOKENS = 2000
MAX_TOKENS = 48
QUESTIONS = [
    "Explain what the function `wrap` does, step by step.",
    "List every class defined above and what each one is for.",
    "Describe how `dedent` handles tabs and blank lines.",
    "Which function would you call to shorten a long string, and how?",
    "What does `TextWrapper._split` return for 'hello-world foo'?",
    "Suggest one unit test for `indent`.",
]
Sample = dict[str, float]
Tick = Callable[[str], None]


def shared_prefix(tokenize: Callable[[str], list[int]], n_tokens: int = PREFIX_TOKENS) -> str:
    """About ``n_tokens`` of real Python (the stdlib's ``textwrap``), cut at a line end."""
    source = inspect.getsource(textwrap)
    lines, text = source.splitlines(keepends=True), ""
    for line in lines * 4:
        if len(tokenize(text + line)) > n_tokens:
            break
        text += line
    return text


def _prompt(prefix: str, question: str, nonce: str, chat: bool) -> dict[str, Any]:
    head = f"# session {nonce}\n" if nonce else ""
    if chat:
        return {
            "messages": [
                {"role": "system", "content": head + "You answer questions about this code.\n"},
                {"role": "user", "content": f"```python\n{prefix}```\n\n{question}"},
            ]
        }
    return {"prompt": f"{head}{prefix}\n# Question: {question}\n# Answer:"}


def _inprocess(engine: Any, body: dict[str, Any], max_tokens: int = MAX_TOKENS) -> Sample:
    req = GenerationRequest(max_tokens=max_tokens, **body)
    start = time.perf_counter()
    first = None
    chunks = engine.generate(req)
    last = None
    try:
        for chunk in chunks:
            if chunk.text and first is None:
                first = time.perf_counter()
            last = chunk
    finally:
        chunks.close()
    end = time.perf_counter()
    tm = last.timings if last is not None else None
    assert tm is not None
    first = first or end
    n = tm.completion_tokens
    return {
        "ttft_s": first - start,
        "decode_tok_s": (n - 1) / (end - first) if n > 1 and end > first else 0.0,
        "prompt_tok_s": tm.prompt_tok_s,
        "prompt_tokens": tm.prompt_tokens,
        "cached_tokens": tm.cached_tokens,
        "completion_tokens": n,
    }


def _served(client: Any, model: str, body: dict[str, Any], max_tokens: int = MAX_TOKENS) -> Sample:
    """One streamed request through the OpenAI client; tokens from the usage chunk."""
    common = {"model": model, "max_tokens": max_tokens, "temperature": 0.0, "stream": True}
    common["stream_options"] = {"include_usage": True}
    start = time.perf_counter()
    if "messages" in body:
        stream = client.chat.completions.create(messages=body["messages"], **common)
    else:
        stream = client.completions.create(prompt=body["prompt"], **common)
    first, usage, pieces = None, None, 0
    for event in stream:
        if event.usage is not None:
            usage = event.usage
        for choice in event.choices or []:
            text = choice.delta.content if hasattr(choice, "delta") else choice.text
            if text:
                pieces += 1
                first = first or time.perf_counter()
    end = time.perf_counter()
    first = first or end
    n = usage.completion_tokens if usage is not None else pieces
    prompt_tokens = usage.prompt_tokens if usage is not None else 0
    details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
    cached = getattr(details, "cached_tokens", 0) or 0
    return {
        "ttft_s": first - start,
        "decode_tok_s": (n - 1) / (end - first) if n > 1 and end > first else 0.0,
        "prompt_tok_s": (prompt_tokens - cached) / (first - start) if first > start else 0.0,
        "prompt_tokens": prompt_tokens,
        "cached_tokens": cached,
        "completion_tokens": n,
    }


def measure(
    call: Callable[[dict[str, Any]], Sample],
    prefix: str,
    chat: bool,
    repeats: int,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Cold and warm samples for one backend; warm is primed once, not counted."""
    cold = [call(_prompt(prefix, QUESTIONS[0], uuid.uuid4().hex, chat)) for _ in range(repeats)]
    if tick:
        tick("cold")
    prime_nonce = uuid.uuid4().hex
    call(_prompt(prefix, QUESTIONS[-1], prime_nonce, chat))
    warm = [
        call(_prompt(prefix, QUESTIONS[1 + i % (len(QUESTIONS) - 2)], prime_nonce, chat))
        for i in range(repeats)
    ]
    if tick:
        tick("warm")
    cold_ttft = spread(s["ttft_s"] for s in cold)
    warm_ttft = spread(s["ttft_s"] for s in warm)
    ratio = (
        warm_ttft["median"] / cold_ttft["median"]
        if cold_ttft["median"] and warm_ttft["median"] is not None
        else None
    )
    return {
        "ttft_cold_s": cold_ttft,
        "ttft_warm_s": warm_ttft,
        "warm_over_cold": round(ratio, 4) if ratio is not None else None,
        "decode_tok_s": spread(s["decode_tok_s"] for s in cold + warm),
        "prompt_tok_s": spread(s["prompt_tok_s"] for s in cold),
        "prompt_tokens": cold[0]["prompt_tokens"],
        "warm_cached_tokens": spread(s["cached_tokens"] for s in warm),
        "completion_tokens": spread(s["completion_tokens"] for s in cold + warm),
    }


def _is_chat(engine: Any) -> bool:
    from redline.engine.models import EMBEDDED

    if engine.name in EMBEDDED:
        return EMBEDDED[engine.name].chat
    return bool(engine.info().chat_template)


def run_latency(
    models: list[str],
    *,
    repeats: int = 3,
    serve: bool = True,
    prefix_tokens: int = PREFIX_TOKENS,
    max_tokens: int = MAX_TOKENS,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Measure every model in-process, then all of them through one ``redline serve``."""
    from redline.engine.engine import get_engine

    rows: list[dict[str, Any]] = []
    setups: dict[str, tuple[str, bool]] = {}
    for model in models:
        start = time.perf_counter()
        engine = get_engine(model)
        load_s = time.perf_counter() - start
        chat = _is_chat(engine)
        prefix = shared_prefix(engine.tokenize, prefix_tokens)
        setups[model] = (prefix, chat)
        row = measure(
            lambda body, e=engine: _inprocess(e, body, max_tokens), prefix, chat, repeats, tick
        )
        rows.append({"model": model, "backend": "in-process", "load_s": round(load_s, 3), **row})
    if serve:
        rows += _served_rows(models, setups, repeats, max_tokens, tick)
    return envelope(
        "latency",
        models=models,
        repeats=repeats,
        max_tokens=max_tokens,
        prefix_tokens=prefix_tokens,
        rows=rows,
    )


def _served_rows(
    models: list[str],
    setups: dict[str, tuple[str, bool]],
    repeats: int,
    max_tokens: int,
    tick: Tick | None,
) -> list[dict[str, Any]]:
    import openai

    from redline.bench.endpoint import ServeProcess

    rows = []
    with ServeProcess(*models) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="bench", max_retries=0)
        for model in models:
            prefix, chat = setups[model]
            row = measure(
                lambda b, m=model: _served(client, m, b, max_tokens), prefix, chat, repeats, tick
            )
            rows.append({"model": model, "backend": "redline serve", "load_s": None, **row})
    return rows
