"""The API's JSON parser: strict UTF-8, bounded nesting, and text PostgreSQL can store.

Every API view reads its body through this parser (REST_FRAMEWORK's
DEFAULT_PARSER_CLASSES), so a NUL byte, a lone surrogate or a document nested
thousands deep is a 400 naming the field, never a 500 from the database driver.
Bulk endpoints (`per_item_text_check = True` on the view) check text item by item
themselves, so one bad item is reported by index and the good ones are stored.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.accounts.input_bounds import (
    JsonDocumentError,
    json_document_parse,
    nested_text_problem,
    text_problems_by_key,
)


class JsonParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        try:
            data = json_document_parse(body)
        except JsonDocumentError as exc:
            raise ParseError({"body": [str(exc)]}) from exc
        view = (parser_context or {}).get("view")
        if not getattr(view, "per_item_text_check", False):
            problems = text_problems_by_key(data)
            if problems:
                raise ParseError(problems)
            problem = nested_text_problem(data)
            if problem:
                raise ParseError({"body": [problem]})
        return data
