"""Griffe extension: this project's docstrings as mkdocstrings' NumPy style reads them.

The docstrings follow Sionna's layout (``Input`` / ``Output`` / ``Example`` sections, see
DESIGN.md) with reST roles (``:func:`x```, ``:math:`x```); mkdocstrings parses NumPy-style
sections and renders Markdown. On the documentation side only (the sources keep their style
and their doctests):

- ``Example`` -> ``Examples``; ``Input`` -> ``Parameters`` and ``Output`` -> ``Returns``
  when every entry is ``name : description`` (the text after the colon, shape, unit and
  meaning, becomes the rendered description; the types come from the signature);
  otherwise the section keeps its name and griffe shows it as a titled box, so prose is
  not misread as parameters;
- ``:func:`~a.b.c``` and the other cross-reference roles -> ``c`` as code;
  ``:math:`x``` -> ``x`` as code (the site needs no JavaScript for maths);
- a line starting with ``>`` (``>= 0`` continued from the line above) is escaped, so
  Markdown does not read it as a block quote.
"""

from __future__ import annotations

import re

import griffe

_SECTION = re.compile(r"^(?P<indent>[ \t]*)(?P<name>Input|Output|Example)[ \t]*\n"
                      r"(?P=indent)-{3,}[ \t]*\n", re.M)
_ANY_HEADING = re.compile(r"^[ \t]*\S.*\n[ \t]*-{3,}[ \t]*$", re.M)
_ENTRY = re.compile(r"^[\w*]+(, [\w*]+)* : ")
_ENTRY_SPLIT = re.compile(r"^([ \t]*)([\w*]+(?:, [\w*]+)*) : ", re.M)
_QUOTE = re.compile(r"^([ \t]*)>(?!>>)", re.M)
_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|const):`~?([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")


def _entries_ok(body: list[str], indent: str) -> bool:
    top = [line for line in body if line.strip() and not line[len(indent):].startswith(" ")]
    return bool(top) and all(_ENTRY.match(line[len(indent):]) for line in top)


def rewrite(text: str) -> str:
    """The docstring ``text`` with NumPy section names, roles as code spans."""
    text = _ROLE.sub(lambda m: f"`{m[1].split('.')[-1] if '~' in m[0] else m[1]}`", text)
    text = _MATH.sub(lambda m: f"`{m[1]}`", text)
    text = _QUOTE.sub(r"\1\\>", text)  # ">= 0" starting a line is not a block quote
    out, pos = [], 0
    for m in _SECTION.finditer(text):
        out.append(text[pos:m.start()])
        end = _ANY_HEADING.search(text, m.end())  # the section runs to the next heading
        body = text[m.end():end.start() if end else len(text)].split("\n")
        indent, name = m["indent"], m["name"]
        if name == "Example":
            new = "Examples"
        elif _entries_ok(body, indent):
            new = {"Input": "Parameters", "Output": "Returns"}[name]
        else:  # prose: griffe shows an unknown section as a titled admonition
            new = name
        out.append(f"{indent}{new}\n{indent}{'-' * len(new)}\n")
        pos = m.end()
        if new in ("Parameters", "Returns"):  # "name : text": the text is the description
            stop = end.start() if end else len(text)
            out.append(_ENTRY_SPLIT.sub(r"\g<1>\g<2>\n\g<1>    ", text[pos:stop]))
            pos = stop
    out.append(text[pos:])
    return "".join(out)


class ProjectSections(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
