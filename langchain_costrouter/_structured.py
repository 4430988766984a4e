"""Structured output by ``response_format`` (JSON schema / JSON mode) through the cascade.

Every tier's answer is checked against the schema by the core (a broken answer escalates, see
:mod:`~langchain_costrouter.core.gates.structured`); the parser here checks the served answer
once more, so the last tier's failure is LangChain's ``OutputParserException``, for a
dictionary schema too.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_costrouter.core.gates.structured import schema_problem

__all__ = ["structured_output_runnable"]


def _validated(json_schema: dict[str, Any]) -> Runnable[Any, Any]:
    """A step that passes JSON data on when it validates against ``json_schema`` (LangChain's parser only parses)."""

    def check(data: Any) -> Any:
        problem = schema_problem(data, json_schema)
        if problem is not None:
            msg = f"the answer {problem}"
            raise OutputParserException(msg, llm_output=json.dumps(data, default=str))
        return data

    return RunnableLambda(check)


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
        json_schema: dict[str, Any] | None = convert_to_json_schema(schema)
        assert json_schema is not None
        fmt: dict[str, Any] = {
            "type": "json_schema",
            "json_schema": {
                "name": json_schema.get("title", "response"),
                "schema": json_schema,
                **({"strict": strict} if strict is not None else {}),
            },
        }
    elif method == "json_mode":
        fmt, json_schema = {"type": "json_object"}, None
    else:
        msg = f"unknown structured output method {method!r}"
        raise ValueError(msg)
    bound = llm.bind(
        response_format=fmt,
        ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
    )
    parser: Runnable[Any, Any]
    if is_pydantic:
        parser = PydanticOutputParser(pydantic_object=schema)
    elif json_schema is not None:
        parser = JsonOutputParser() | _validated(json_schema)
    else:
        parser = JsonOutputParser()
    if not include_raw:
        return bound | parser
    assign = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    none = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | assign.with_fallbacks([none], exception_key="parsing_error")
