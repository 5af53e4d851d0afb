"""Which federated ``SERVICE`` calls a query may make: pure policy, decided before it runs.

pyoxigraph executes ``SERVICE`` itself with its own HTTP client and offers no hook
to veto a call, so the policy reads the query text. The reading errs on the side of
finding too many ``SERVICE`` clauses, never too few:

- SPARQL says ``\\uXXXX``/``\\UXXXXXXXX`` escapes are replaced *before* parsing;
  pyoxigraph only decodes them inside IRIs and strings. Both readings are scanned.
- pyoxigraph's parser does not need a word boundary around keywords
  (``SERVICESILENT<x>``, ``trueSERVICE<x>`` and ``SERVICEex:y`` all parse), so any
  occurrence of ``service`` in a bare word or a prefix name counts.
- ``<`` is either an IRI or the less-than operator depending on context (and a
  wrong guess desynchronises string boundaries: ``FILTER(?o<'x>') SERVICE …``),
  so the scanner follows both readings.

A found call is allowed only when its target is an absolute IRI that is exactly on
the allow-list and whose host does not resolve to a loopback, private, link-local,
metadata or otherwise non-public address (unless private targets are allowed).
``SERVICE ?variable`` is always refused: its target is only known while running.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from defence_engagements.errors import ServiceNotAllowedError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]

_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# IRIREF of the SPARQL grammar (escapes are allowed too: pyoxigraph decodes them).
_IRIREF = re.compile(r'<([^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>')
# Words and prefix names are read wider than PN_CHARS: a word read too long never hides
# a keyword (any "service" inside one counts), a word read too short could.
_WORD_CHAR = r"[^\s<>\"'{}()\[\],;#?$@^|`\\:!=&*+/%~]"
_VARNAME_CHAR = r"[\w\u00B7\u0300-\u036F\u203F\u2040]"
_PREFIX_PART = re.compile(rf"{_WORD_CHAR}*")
# A dot may end a triple, so names stop at one: the rest is read again as a word.
_LOCAL_PART = re.compile(rf"(?:{_WORD_CHAR[:-1]}.]|:|%[0-9A-Fa-f]{{2}}|\\[_~.\-!$&'()*+,;=/?#@%])*")
_VARIABLE = re.compile(rf"[?$]{_VARNAME_CHAR}+")
_BLANK_NODE = re.compile(rf"_:(?:{_VARNAME_CHAR}|-)*")
_LANGTAG = re.compile(r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*")
_WORD_START = re.compile(rf"{_WORD_CHAR}|:")
_LINE_BREAK = re.compile(r"[\n\r]")
_SERVICE = re.compile("service", re.IGNORECASE)
_SILENT = re.compile("silent", re.IGNORECASE)
_PREFIX_DECL = re.compile(
    rf"(?i:prefix)(?:\s|#[^\n\r]*)*({_WORD_CHAR}*):(?:\s|#[^\n\r]*)*"
    r'<((?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)>'
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_PN_LOCAL_ESCAPE = re.compile(r"\\([_~.\-!$&'()*+,;=/?#@%])")


@dataclass(frozen=True)
class ServiceCall:
    """One ``SERVICE`` clause as written: an IRI or a variable."""

    target: str  # the expanded IRI, or "?name" for a variable
    kind: str  # "iri" or "variable"


def expand_codepoint_escapes(text: str) -> str:
    """SPARQL 1.1 §19.2: replace ``\\uXXXX`` and ``\\UXXXXXXXX`` by the code point."""

    def replace(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"

    return _CODEPOINT_ESCAPE.sub(replace, text)


def find_service_calls(query: str) -> list[ServiceCall]:
    """Every ``SERVICE`` clause any plausible reading of ``query`` contains."""
    calls: dict[ServiceCall, None] = {}
    for text in dict.fromkeys((query, expand_codepoint_escapes(query))):
        prefixes = _declared_prefixes(text)
        for position in _service_keyword_ends(text):
            for call in _read_target(text, position, prefixes):
                calls.setdefault(call)
    return list(calls)


def _declared_prefixes(text: str) -> dict[str, set[str]]:
    """Every value each prefix is declared with (a redeclared prefix keeps all of them)."""
    declared: dict[str, set[str]] = {}
    for match in _PREFIX_DECL.finditer(text):
        declared.setdefault(match.group(1), set()).add(expand_codepoint_escapes(match.group(2)))
    return declared


def _service_keyword_ends(text: str) -> list[int]:
    """Positions just after each ``service`` a parser could read as the keyword."""
    ends: set[int] = set()
    pending = [0]
    seen: set[int] = set()
    length = len(text)
    while pending:
        start = pending.pop()
        position = start
        # Follow one deterministic reading until an ambiguity forks it.
        while position < length and position not in seen:
            seen.add(position)
            position = _next_token(text, position, ends, pending)
    return sorted(ends)


def _next_token(text: str, position: int, ends: set[int], pending: list[int]) -> int:
    char = text[position]
    if char.isspace():
        return position + 1
    if char == "#":
        return _end_of_line(text, position)
    if char in "\"'":
        return _end_of_string(text, position)
    if char == "<":
        iri = _IRIREF.match(text, position)
        if iri:
            # Read as "less than", the inside could open a string or a comment that
            # runs past the ">" (FILTER(?o<'x>') SERVICE …); only then the readings differ.
            if "'" in iri.group() or "#" in iri.group():
                pending.append(position + 1)
            return iri.end()
        return position + 1
    if char in "?$":
        variable = _VARIABLE.match(text, position)
        return variable.end() if variable else position + 1
    if text.startswith("_:", position):
        return _BLANK_NODE.match(text, position).end()  # type: ignore[union-attr]
    if char == "@":
        tag = _LANGTAG.match(text, position)
        return tag.end() if tag else position + 1
    if _WORD_START.match(char):
        prefix_end = _PREFIX_PART.match(text, position).end()  # type: ignore[union-attr]
        word = text[position:prefix_end]
        if prefix_end < len(text) and text[prefix_end] == ":":
            end = _LOCAL_PART.match(text, prefix_end + 1).end()  # type: ignore[union-attr]
        else:
            end = prefix_end
        # Keywords need no boundary in pyoxigraph's parser: "service" anywhere in a
        # bare word or a prefix name may be the keyword glued to its neighbours.
        for found in _SERVICE.finditer(word):
            ends.add(position + found.end())
        return max(end, position + 1)
    return position + 1


def _end_of_line(text: str, position: int) -> int:
    # Bisecting a precomputed index keeps many comment readings of one line linear.
    breaks = _line_breaks(text)
    index = bisect.bisect_left(breaks, position)
    return breaks[index] + 1 if index < len(breaks) else len(text)


@functools.lru_cache(maxsize=8)
def _line_breaks(text: str) -> list[int]:
    return [match.start() for match in _LINE_BREAK.finditer(text)]


def _end_of_string(text: str, position: int) -> int:
    quote = text[position]
    if text.startswith(quote * 3, position):
        index = position + 3
        while index < len(text):
            if text[index] == "\\":
                index += 2
            elif text.startswith(quote * 3, index):
                # """a"""" ends on the last three quotes.
                while text.startswith(quote * 4, index):
                    index += 1
                return index + 3
            else:
                index += 1
        return len(text)
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
        elif char == quote:
            return index + 1
        elif char in "\n\r":
            break
        else:
            index += 1
    # Unterminated on its line: not a string any parser accepts; read on after the quote.
    return position + 1


def _skip_blank(text: str, position: int) -> int:
    while position < len(text):
        if text[position].isspace():
            position += 1
        elif text[position] == "#":
            position = _end_of_line(text, position)
        else:
            break
    return position


def _read_target(text: str, position: int, prefixes: dict[str, set[str]]) -> list[ServiceCall]:
    position = _skip_blank(text, position)
    starts = [position]
    silent = _SILENT.match(text, position)
    if silent:
        # "SERVICE silent:x" reads either way; keep both.
        starts.insert(0, _skip_blank(text, silent.end()))
    calls: list[ServiceCall] = []
    for start in starts:
        calls.extend(_read_iri_or_variable(text, start, prefixes))
    # Nothing readable as a target: no parser accepts this as a SERVICE clause.
    return calls


def _read_iri_or_variable(
    text: str, position: int, prefixes: dict[str, set[str]]
) -> list[ServiceCall]:
    iri = _IRIREF.match(text, position)
    if iri:
        return [ServiceCall(expand_codepoint_escapes(iri.group()[1:-1]), "iri")]
    variable = _VARIABLE.match(text, position)
    if variable:
        return [ServiceCall("?" + variable.group()[1:], "variable")]
    prefix_end = _PREFIX_PART.match(text, position).end()  # type: ignore[union-attr]
    if prefix_end < len(text) and text[prefix_end] == ":":
        local_end = _LOCAL_PART.match(text, prefix_end + 1).end()  # type: ignore[union-attr]
        local = _PN_LOCAL_ESCAPE.sub(r"\1", text[prefix_end + 1 : local_end].rstrip("."))
        namespaces = prefixes.get(text[position:prefix_end], set())
        # A prefix declared more than once: every value it was given is checked.
        return [ServiceCall(namespace + local, "iri") for namespace in sorted(namespaces)]
    return []


# --- addresses -------------------------------------------------------------------------

_BLOCKED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.169.254/32", "a cloud metadata address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol assignment"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("fd00:ec2::254/128", "a cloud metadata address"),
    ("fc00::/7", "a unique-local address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
)
_BLOCKED = tuple((ipaddress.ip_network(net), reason) for net, reason in _BLOCKED_NETWORKS)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def address_refusal(address: IpAddress) -> str | None:
    """Why ``address`` must not be contacted, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return f"{reason} ({embedded}) inside an IPv6 address"
    for network, reason in _BLOCKED:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global or address.is_multicast:
        return "not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    if any(address in network for network in _NAT64) or packed[:12] == bytes(12):
        # NAT64 and the deprecated IPv4-compatible form carry IPv4 in the last 32 bits.
        return ipaddress.IPv4Address(packed[12:]) if packed[12:] != bytes(4) else None
    return None


def parse_ip_literal(host: str) -> IpAddress | None:
    """An IP address however it is spelled in a URL host, as inet_aton and browsers read it.

    ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1`` all mean 127.0.0.1.
    """
    candidate = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    parts = candidate.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if re.fullmatch(r"0[xX][0-9A-Fa-f]*", part):
                numbers.append(int(part[2:] or "0", 16))
            elif re.fullmatch(r"0[0-7]+", part):
                numbers.append(int(part, 8))
            elif re.fullmatch(r"[0-9]+", part):
                numbers.append(int(part, 10))
            else:
                return None
        except ValueError:
            return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def looks_numeric(host: str) -> bool:
    """A host made of digits, dots and hex that is no valid address is refused, not resolved."""
    return bool(re.fullmatch(r"[0-9][0-9a-fA-FxX.]*", host))


def system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class ServicePolicy:
    allow: tuple[str, ...] = ()
    allow_private: bool = False

    def check(self, query: str, resolver: Resolver = system_resolver) -> list[str]:
        """The allowed SERVICE IRIs of ``query``; raises ServiceNotAllowedError otherwise."""
        allowed: list[str] = []
        for call in find_service_calls(query):
            if call.kind == "variable":
                raise ServiceNotAllowedError(
                    call.target,
                    "a SERVICE target given by a variable cannot be checked before the "
                    "query runs; write the endpoint IRI",
                )
            self.check_iri(call.target, resolver)
            allowed.append(call.target)
        return allowed

    def check_iri(self, iri: str, resolver: Resolver = system_resolver) -> None:
        if not _SCHEME.match(iri):
            raise ServiceNotAllowedError(iri, "SERVICE needs an absolute IRI")
        if iri not in self.allow:
            listed = ", ".join(f"<{entry}>" for entry in self.allow) or "none"
            raise ServiceNotAllowedError(
                iri, f"it is not on this server's allow-list (allowed: {listed})"
            )
        if self.allow_private:
            return
        parts = urlsplit(iri)
        if parts.scheme.lower() not in {"http", "https"}:
            raise ServiceNotAllowedError(iri, "only http and https endpoints are called")
        try:
            host = parts.hostname or ""
        except ValueError:
            host = ""
        if not host:
            raise ServiceNotAllowedError(iri, "it names no host")
        reason = host_refusal(host, resolver)
        if reason:
            raise ServiceNotAllowedError(iri, reason)


def host_refusal(host: str, resolver: Resolver = system_resolver) -> str | None:
    """Why a request to ``host`` must not be made, or None if all its addresses are public."""
    literal = parse_ip_literal(host)
    if literal is not None:
        reason = address_refusal(literal)
        return f"{host} is {reason}" if reason else None
    if looks_numeric(host) or ":" in host:
        return f"{host} is a malformed numeric address"
    try:
        addresses = list(resolver(host))
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve ({exc})"
    if not addresses:
        return f"{host} does not resolve"
    for text in _unique(addresses):
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            return f"{host} resolves to something that is not an address ({text})"
        reason = address_refusal(address)
        if reason:
            return f"{host} resolves to {address}, {reason}"
    return None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
