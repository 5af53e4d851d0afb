"""Write query results in the negotiated format, stopping at ``max_rows``.

pyoxigraph's own serialisers write a whole result and cannot be told to stop, so
SELECT results are written here (SPARQL 1.1 JSON, XML, CSV and TSV, RDF 1.2 triple
terms and base directions included), one solution at a time; graphs go through
``pyoxigraph.serialize`` over a counted, bounded iterator. Either way the writer
asks for one more row than it writes, so "truncated" is only said when it is true.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph

from defence_engagements.formats import Format

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RDF_DIR_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"
RESULTS_NS = "http://www.w3.org/2005/sparql-results#"

# json.dumps(..., ensure_ascii=False) quotes strings with this (C) function.
_quote = encode_basestring

Term = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.Triple


@dataclass(frozen=True)
class Written:
    body: bytes
    rows: int | None  # solutions or triples written; None: not counted (never cut)
    truncated: bool


class _Bounded:
    """Yields at most ``limit`` items and remembers whether more were available."""

    def __init__(self, items: Iterable[object], limit: int) -> None:
        self._items = iter(items)
        self._limit = limit
        self.count = 0
        self.truncated = False

    def __iter__(self) -> Iterator[object]:
        for item in self._items:
            if self.count >= self._limit:
                self.truncated = True
                return
            self.count += 1
            yield item


def write_graph(
    triples: Iterable[pyoxigraph.Triple],
    fmt: Format,
    max_rows: int,
    prefixes: dict[str, str] | None = None,
) -> Written:
    bounded = _Bounded(triples, max_rows)
    body = pyoxigraph.serialize(bounded, format=fmt.oxigraph_rdf, prefixes=prefixes)
    return Written(body or b"", bounded.count, bounded.truncated)


def write_boolean(value: bool, fmt: Format) -> Written:
    if fmt.name == "json":
        body = json.dumps({"head": {}, "boolean": value}, separators=(",", ":")).encode()
    elif fmt.name == "xml":
        body = (
            f'<?xml version="1.0"?>\n<sparql xmlns="{RESULTS_NS}"><head/>'
            f"<boolean>{'true' if value else 'false'}</boolean></sparql>\n"
        ).encode()
    elif fmt.name == "csv":
        body = b"_askResult\r\n" + (b"true" if value else b"false") + b"\r\n"
    else:
        body = b"?_askResult\n" + (b"true" if value else b"false") + b"\n"
    return Written(body, 1, False)


def write_solutions(solutions: pyoxigraph.QuerySolutions, fmt: Format, max_rows: int) -> Written:
    variables = [variable.value for variable in solutions.variables]
    bounded = _Bounded(solutions, max_rows)
    out = io.StringIO()
    writer = _WRITERS[fmt.name]
    writer(out, variables, bounded)
    return Written(out.getvalue().encode("utf-8"), bounded.count, bounded.truncated)


def _rows(variables: list[str], solutions: _Bounded) -> Iterator[list[Term | None]]:
    for solution in solutions:
        yield [solution[name] for name in variables]  # type: ignore[index]


def _json_term(term: Term) -> dict[str, object]:
    if isinstance(term, pyoxigraph.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, pyoxigraph.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, pyoxigraph.Literal):
        encoded: dict[str, object] = {"type": "literal", "value": term.value}
        if term.language:
            encoded["xml:lang"] = term.language
            direction = getattr(term, "direction", None)
            if direction is not None:
                encoded["its:dir"] = str(direction).rsplit(".", 1)[-1].lower()
        elif term.datatype.value != XSD_STRING:
            encoded["datatype"] = term.datatype.value
        return encoded
    return {
        "type": "triple",
        "value": {
            "subject": _json_term(term.subject),
            "predicate": _json_term(term.predicate),
            "object": _json_term(term.object),
        },
    }


def _json_term_text(term: Term) -> str:
    """A term as SPARQL JSON text: the bytes ``json.dumps(_json_term(term), ensure_ascii=False,
    separators=(",", ":"))`` gives, built without the intermediate dict (the hot path of
    every SELECT answered as JSON)."""
    kind = type(term)
    if kind is pyoxigraph.NamedNode:
        return '{"type":"uri","value":' + _quote(term.value) + "}"  # type: ignore[union-attr]
    if kind is pyoxigraph.Literal:
        text = '{"type":"literal","value":' + _quote(term.value)  # type: ignore[union-attr]
        language = term.language  # type: ignore[union-attr]
        if language:
            text += ',"xml:lang":' + _quote(language)
            direction = getattr(term, "direction", None)
            if direction is not None:
                text += ',"its:dir":' + _quote(str(direction).rsplit(".", 1)[-1].lower())
            return text + "}"
        datatype = term.datatype.value  # type: ignore[union-attr]
        if datatype != XSD_STRING:
            return text + ',"datatype":' + _quote(datatype) + "}"
        return text + "}"
    return json.dumps(_json_term(term), ensure_ascii=False, separators=(",", ":"))


def _write_json(out: io.StringIO, variables: list[str], solutions: _Bounded) -> None:
    out.write(
        '{"head":{"vars":'
        + json.dumps(variables, separators=(",", ":"))
        + '},"results":{"bindings":['
    )
    keys = [_quote(name) + ":" for name in variables]
    bindings: list[str] = []
    for solution in solutions:
        # A solution iterates its terms in the order of ``variables`` (None when unbound).
        fields = [
            key + _json_term_text(term)
            for key, term in zip(keys, solution, strict=True)  # type: ignore[call-overload]
            if term is not None
        ]
        bindings.append("{" + ",".join(fields) + "}")
    out.write(",".join(bindings))
    out.write("]}")
    if solutions.truncated:
        # Extra members are ignored by SPARQL JSON readers; people and scripts see them.
        note = (
            f"only the first {solutions.count} solutions are included: the server's "
            "row limit was reached (see the X-Result-Truncated header)"
        )
        out.write(',"truncated":true,"warning":' + json.dumps(note))
    out.write("}")


def _xml_term(term: Term) -> str:
    if isinstance(term, pyoxigraph.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, pyoxigraph.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, pyoxigraph.Literal):
        if term.language:
            attribute = f" xml:lang={quoteattr(term.language)}"
        elif term.datatype.value != XSD_STRING:
            attribute = f" datatype={quoteattr(term.datatype.value)}"
        else:
            attribute = ""
        return f"<literal{attribute}>{escape(term.value)}</literal>"
    return (
        f"<triple><subject>{_xml_term(term.subject)}</subject>"
        f"<predicate>{_xml_term(term.predicate)}</predicate>"
        f"<object>{_xml_term(term.object)}</object></triple>"
    )


def _write_xml(out: io.StringIO, variables: list[str], solutions: _Bounded) -> None:
    out.write(f'<?xml version="1.0"?>\n<sparql xmlns="{RESULTS_NS}"><head>')
    out.writelines(f"<variable name={quoteattr(name)}/>" for name in variables)
    out.write("</head><results>")
    for row in _rows(variables, solutions):
        out.write("<result>")
        out.writelines(
            f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>"
            for name, term in zip(variables, row, strict=True)
            if term
        )
        out.write("</result>")
    out.write("</results></sparql>\n")


def _csv_value(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, pyoxigraph.BlankNode):
        text = "_:" + term.value
    elif isinstance(term, pyoxigraph.NamedNode | pyoxigraph.Literal):
        text = term.value
    else:
        text = str(term)
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_csv(out: io.StringIO, variables: list[str], solutions: _Bounded) -> None:
    out.write(",".join(variables) + "\r\n")
    for row in _rows(variables, solutions):
        out.write(",".join(_csv_value(term) for term in row) + "\r\n")


def _tsv_value(term: Term | None) -> str:
    if term is None:
        return ""
    return str(term).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _write_tsv(out: io.StringIO, variables: list[str], solutions: _Bounded) -> None:
    out.write("\t".join("?" + name for name in variables) + "\n")
    for row in _rows(variables, solutions):
        out.write("\t".join(_tsv_value(term) for term in row) + "\n")


_WRITERS = {"json": _write_json, "xml": _write_xml, "csv": _write_csv, "tsv": _write_tsv}
