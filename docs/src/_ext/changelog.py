"""Include ``CHANGELOG.md`` in the documentation without a Markdown parser.

The changelog follows "Keep a Changelog", which uses a small part of Markdown:
ATX headings, ``-`` bullet lists, inline code and links. The ``markdown-changelog``
directive translates that subset to reStructuredText and inserts it in the page, so
the changelog has one source and needs no extra dependency. Anything outside the
subset is an error rather than silently mangled text.
"""

import os
import re

from docutils.parsers.rst import Directive, directives


# heading underline characters, by Markdown heading level; level 1 is the page title,
# which the including page provides
_UNDERLINES = {2: "-", 3: "~", 4: "^"}

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def _inline(text: str) -> str:
    # code spans first, so that brackets inside code are not read as links
    parts = _CODE.split(text)
    for index in range(0, len(parts), 2):
        parts[index] = _LINK.sub(r"`\1 <\2>`__", parts[index])
    for index in range(1, len(parts), 2):
        # reStructuredText markup must be delimited by spaces or punctuation: an
        # escaped space joins it to adjacent words ("``TensorMap``\ s")
        before = "\\ " if parts[index - 1][-1:].isalnum() else ""
        after = "\\ " if parts[index + 1][:1].isalnum() else ""
        parts[index] = f"{before}``{parts[index]}``{after}"
    return "".join(parts)


def markdown_to_rst(markdown: str, source: str) -> list:
    """Translate the Keep-a-Changelog subset of Markdown to reStructuredText lines."""
    lines = []
    title_seen = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading:
            level = len(heading.group(1))
            if level == 1:
                if title_seen:
                    raise ValueError(f"{source}:{number}: a second top-level heading")
                title_seen = True
                continue
            if level not in _UNDERLINES:
                raise ValueError(f"{source}:{number}: heading level {level}")
            # `## [Unreleased]` and `## [1.0.0] - 2026-01-01` are plain titles
            text = re.sub(r"^\[([^\]]+)\]", r"\1", heading.group(2).strip())
            text = _inline(text)
            lines += ["", text, _UNDERLINES[level] * len(text), ""]
        elif re.match(r"^\s*([-*+]\s|$)", line) or line.startswith("  "):
            lines.append(_inline(line).rstrip())
        elif re.match(r"^\[[^\]]+\]:\s", line):
            # link reference definitions are only used by Markdown renderers
            continue
        elif re.match(r"^(\s*\d+\.|>|```|\|)", line):
            raise ValueError(
                f"{source}:{number}: unsupported Markdown in the changelog: {line!r}"
            )
        else:
            lines.append(_inline(line).rstrip())
    return lines


class MarkdownChangelog(Directive):
    """``.. markdown-changelog:: path/relative/to/this/page.md``"""

    required_arguments = 1
    has_content = False
    option_spec = {"encoding": directives.encoding}

    def run(self):
        env = self.state.document.settings.env
        _, path = env.relfn2path(self.arguments[0])
        env.note_dependency(path)
        with open(path, encoding=self.options.get("encoding", "utf-8")) as fd:
            markdown = fd.read()
        try:
            lines = markdown_to_rst(markdown, os.path.relpath(path))
        except ValueError as error:
            raise self.error(str(error)) from error
        self.state_machine.insert_input(lines, path)
        return []


def setup(app):
    app.add_directive("markdown-changelog", MarkdownChangelog)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
