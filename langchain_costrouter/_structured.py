"""Structured output by ``response_format`` (JSON schema / JSON mode) through the cascade."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass

__all__ = ["structured_output_runnable"]


def structured_output_runnable(
    llm: BaseChatModel,
    schema: Any,
    *,
    method: str,
    include_raw: bool,
    strict: bool | None = None,
    **kwargs: Any,
) -> Runnable[LanguageModelInput, Any]:
    """``llm`` bound to a ``response_format`` plus the matching parser.

    Raises:
        ValueError: unknown method, missing schema for ``json_schema`` or unexpected kwargs.
    """
    if kwargs:
        msg = f"Received unsupported arguments {kwargs}"
        raise ValueError(msg)
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method == "json_schema":
        if schema is None:
            msg = "method='json_schema' needs a schema"
            raise ValueError(msg)
        json_schema = convert_to_json_schema(schema)
        fmt: dict[str, Any] = {
            "type": "json_schema",
            "json_schema": {
                "name": json_schema.get("title", "response"),
                "schema": json_schema,
                **({"strict": strict} if strict is not None else {}),
            },
        }
    elif method == "json_mode":
        fmt = {"type": "json_object"}
    else:
        msg = f"unknown structured output method {method!r}"
        raise ValueError(msg)
    bound = llm.bind(
        response_format=fmt,
        ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
    )
    parser: Runnable[Any, Any] = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
    if not include_raw:
        return bound | parser
    assign = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    none = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | assign.with_fallbacks([none], exception_key="parsing_error")
