"""Split an SQL script into its statements, for migrations' RunSQL on a Citus cluster.

Citus forwards a DDL statement's whole query text to the worker that holds the schema, and the
worker refuses a text with several commands ("cannot insert multiple commands into a prepared
statement"). A migration therefore hands RunSQL one statement per string:
``migrations.RunSQL(statements(CREATE), statements(DROP))``. The split honours single-quoted
strings, quoted identifiers, ``--`` and ``/* */`` comments and dollar-quoted bodies
(``$$ … $$``, ``$fn$ … $fn$``), so a function body's semicolons stay inside it.
"""

import re

_TOKEN = re.compile(
    r"""(?P<dollar>\$[A-Za-z_][A-Za-z_0-9]*\$|\$\$)
      | (?P<quote>'(?:[^']|'')*')
      | (?P<ident>"(?:[^"]|"")*")
      | (?P<line>--[^\n]*)
      | (?P<block>/\*.*?\*/)
      | (?P<semi>;)""",
    re.VERBOSE | re.DOTALL,
)


def statements(script: str) -> list[str]:
    """The statements of `script`, each stripped and without its closing semicolon."""
    found, start, position = [], 0, 0
    while match := _TOKEN.search(script, position):
        if match.group("dollar"):
            tag = match.group("dollar")
            end = script.find(tag, match.end())
            if end < 0:
                raise ValueError(f"unterminated dollar-quoted body opened by {tag}")
            position = end + len(tag)
            continue
        if match.group("semi"):
            found.append(script[start : match.start()])
            start = match.end()
        position = match.end()
    found.append(script[start:])
    return [text.strip() for text in found if _has_code(text)]


def _has_code(text: str) -> bool:
    """Whether a piece holds more than whitespace and comments."""
    return bool(re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL).strip())
