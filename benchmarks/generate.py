"""Synthetic engagements shaped like the real data, for benchmarks only.

``python -m benchmarks.generate OUT --engagements N [--seed S] [--violations V]``

Writes a repository-like tree into OUT (which must lie outside the checkout's
``data/``): ``ontology/`` and ``shapes/`` copied unchanged, ``data/`` with the
shared pools and ``data/engagements/*.ttl`` with one file per engagement.

The real files are the templates, so the shape of the output follows the real
data whatever the ontology says: every engagement file of the checkout is
copied once per *group* (group g gets the slugs ``synthetic-g-<slug>``), and
the people, posts, organisations, places and sources of the shared files are
cloned into pools (copy k gets ``synthetic-k-<slug>``), each pool sized to the
number of engagements so that people and organisations recur across
engagements the way ministries meet again. Group g draws one pool copy k at
random (deterministic by seed) and uses it for every reference, so a post's
holder is also the engagement's participant, hosts differ from guests, and
places keep their containment. Countries, topics, engagement types and the
Wikidata links of countries are copied unchanged: they are vocabulary, not
invented facts. Clones get no Wikidata link (a synthetic person is no one) and
a label marked ``[synthetic k]``.

``--violations V`` plants V shape violations, each in a different engagement
file, cycling through kinds that the shapes reject (a start date that is not a
date, host = guest, no evidence quote, no source); ``violations.json`` lists
them (file, focus node, kind).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from defence_engagements.namespaces import DEX, ID, PREFIXES, split_thing_iri

REPO_ROOT = Path(__file__).resolve().parents[1]
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"

# How many engagements share one copy of each pool (fan-out). One copy of a pool is
# every person (or post, source…) of the real shared files, so a copy per 40
# engagements gives each synthetic person a few dozen engagements, as officials
# meet again, and ~45 triples per engagement overall: the size the targets of the
# performance issue and ../shared/PERF-NOTES.md were measured at (~36–38).
ENGAGEMENTS_PER_COPY = {
    "person": 40,
    "post": 40,
    "source": 40,
    "quote": 40,
    "claim": 40,
    "organization": 200,
    "place": 200,
}
VIOLATION_KINDS = ("start-date-not-a-date", "host-is-guest", "no-evidence-quote", "no-source")

Triple = tuple[Any, ox.NamedNode, Any]


@dataclass
class Unit:
    """One described thing: its triples, with the blank nodes reachable from it."""

    subject: ox.NamedNode
    kind: str
    triples: list[Triple]


def _units(path: Path) -> list[Unit]:
    triples = [
        (q.subject, q.predicate, q.object)
        for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
    ]
    by_subject: dict[ox.Term, list[Triple]] = defaultdict(list)
    for triple in triples:
        by_subject[triple[0]].append(triple)
    units: list[Unit] = []
    for subject, own in by_subject.items():
        if not isinstance(subject, ox.NamedNode):
            continue
        collected = list(own)
        pending = [t[2] for t in own if isinstance(t[2], ox.BlankNode)]
        seen: set[ox.Term] = set()
        while pending:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            for triple in by_subject.get(node, []):
                collected.append(triple)
                if isinstance(triple[2], ox.BlankNode):
                    pending.append(triple[2])
        parsed = split_thing_iri(subject.value)
        units.append(Unit(subject, parsed[0] if parsed else "", collected))
    return units


class Generator:
    def __init__(self, source: Path, engagements: int, seed: int) -> None:
        self.source = source
        self.random = random.Random(seed)
        self.templates = sorted((source / "data" / "engagements").glob("*.ttl"))
        if not self.templates:
            raise SystemExit(f"no engagement files under {source / 'data' / 'engagements'}")
        self.groups = math.ceil(engagements / len(self.templates))
        self.engagements = self.groups * len(self.templates)
        self.copies = {
            kind: max(1, self.engagements // per) for kind, per in ENGAGEMENTS_PER_COPY.items()
        }
        self.shared_files = sorted(p for p in (source / "data").glob("*.ttl") if p.is_file())
        self.shared_units = {path: _units(path) for path in self.shared_files}
        self.template_units = {path: _units(path) for path in self.templates}
        # What vocabulary (countries…) points at stays one real thing, never cloned:
        # a country's region must exist under its own IRI.
        vocabulary_refs = {
            o.value
            for units in self.shared_units.values()
            for unit in units
            if unit.kind not in self.copies and unit.kind != "wikidata-link"
            for _, _, o in unit.triples
            if isinstance(o, ox.NamedNode)
        }
        self.pooled: dict[str, str] = {}  # IRI → kind, for IRIs described in shared files
        for units in self.shared_units.values():
            for unit in units:
                if unit.kind in self.copies and unit.subject.value not in vocabulary_refs:
                    self.pooled[unit.subject.value] = unit.kind
        self.minted = {
            unit.subject.value for units in self.template_units.values() for unit in units
        }

    def _rename(self, iri: str, copy: int, group: int) -> str:
        parsed = split_thing_iri(iri)
        if parsed is None:
            return iri
        kind, slug = parsed
        if iri in self.minted:
            return iri.removesuffix(slug) + f"synthetic-{group}-{slug}"
        if iri in self.pooled:
            return iri.removesuffix(slug) + f"synthetic-{copy % self.copies[kind]}-{slug}"
        return iri

    def _map(self, triples: Iterable[Triple], copy: int, group: int, tag: str) -> list[Triple]:
        def term(t: ox.Term) -> ox.Term:
            if isinstance(t, ox.NamedNode):
                return ox.NamedNode(self._rename(t.value, copy, group))
            if isinstance(t, ox.BlankNode):
                return ox.BlankNode(f"{t.value}x{tag}")
            return t

        out: list[Triple] = []
        for s, p, o in triples:
            if p.value == DEX + "wikidataLink" and self._rename(s.value, copy, group) != s.value:
                continue  # a synthetic clone is no one: it gets no Wikidata link
            if p.value == RDFS_LABEL and isinstance(o, ox.Literal) and isinstance(s, ox.NamedNode):
                renamed = self._rename(s.value, copy, group)
                if renamed != s.value:
                    number = renamed.rsplit("/", 1)[1].split("-")[1]
                    o = ox.Literal(f"{o.value} [synthetic {number}]", language=o.language)
            out.append((term(s), p, term(o)))  # type: ignore[arg-type]
        return out

    def write(self, out: Path, violations: int) -> dict[str, object]:
        if out.exists():
            shutil.rmtree(out)
        for name in ("ontology", "shapes", "queries"):
            if (self.source / name).is_dir():
                shutil.copytree(self.source / name, out / name)
        data = out / "data"
        (data / "engagements").mkdir(parents=True)
        for extra in (self.source / "data").iterdir():
            if extra.is_dir() and extra.name != "engagements":
                shutil.copytree(extra, data / extra.name)
        # Shared pools: each cloned unit written once per copy; the rest once.
        kept = [
            unit
            for units in self.shared_units.values()
            for unit in units
            if unit.subject.value not in self.pooled and unit.kind != "wikidata-link"
        ]
        referenced = {
            o.value for unit in kept for _, _, o in unit.triples if isinstance(o, ox.NamedNode)
        }
        for path, units in self.shared_units.items():
            triples: list[Triple] = []
            for unit in units:
                if unit.subject.value in self.pooled:
                    for copy in range(self.copies[unit.kind]):
                        triples += self._map(unit.triples, copy, 0, f"{copy}")
                elif unit.kind != "wikidata-link" or unit.subject.value in referenced:
                    triples += unit.triples  # vocabulary and real countries: copied unchanged
            if triples:
                _write_turtle(data / f"synthetic-{path.name}", triples)
        # Engagements: group g, a pool copy drawn at random per group.
        files = 0
        planted: list[dict[str, str]] = []
        targets = set(
            self.random.sample(range(self.engagements), min(violations, self.engagements))
        )
        for group in range(self.groups):
            copy = self.random.randrange(max(self.copies.values()))
            for index, path in enumerate(self.templates):
                number = group * len(self.templates) + index
                triples: list[Triple] = []
                for unit in self.template_units[path]:
                    triples += self._map(unit.triples, copy, group, f"{group}")
                name = f"synthetic-{group}-{path.name}"
                if number in targets:
                    kind = VIOLATION_KINDS[len(planted) % len(VIOLATION_KINDS)]
                    focus = self._plant(triples, kind)
                    planted.append(
                        {"file": f"data/engagements/{name}", "focus": focus, "kind": kind}
                    )
                _write_turtle(data / "engagements" / name, triples)
                files += 1
        summary = {
            "engagements": files,
            "groups": self.groups,
            "pool_copies": self.copies,
            "violations": planted,
        }
        (out / "violations.json").write_text(json.dumps(planted, indent=2) + "\n")
        (out / "SYNTHETIC.md").write_text(
            "Synthetic engagements generated by benchmarks/generate.py for benchmarks only.\n"
            "Every minted IRI has a slug starting with `synthetic-`; none of it is a fact.\n"
        )
        return summary

    def _plant(self, triples: list[Triple], kind: str) -> str:
        engagements = {
            s
            for s, p, o in triples
            if p.value.endswith("22-rdf-syntax-ns#type")
            and isinstance(s, ox.NamedNode)
            and "/id/engagement/" in s.value
        }
        focus = sorted(engagements, key=lambda n: n.value)[0]

        def drop(predicate: str) -> None:
            triples[:] = [t for t in triples if not (t[0] == focus and t[1].value == predicate)]

        if kind == "start-date-not-a-date":
            drop(DEX + "startDate")
            triples.append(
                (focus, ox.NamedNode(DEX + "startDate"), ox.Literal("sometime in spring"))
            )
        elif kind == "host-is-guest":
            hosts = [o for s, p, o in triples if s == focus and p.value == DEX + "host"]
            if hosts:
                triples.append((focus, ox.NamedNode(DEX + "guest"), hosts[0]))
            else:
                return self._plant(triples, "no-evidence-quote")
        elif kind == "no-evidence-quote":
            drop(DEX + "evidenceQuote")
        elif kind == "no-source":
            drop(PROV_DERIVED)
        return focus.value


def _write_turtle(path: Path, triples: list[Triple]) -> None:
    quads = [ox.Triple(s, p, o) for s, p, o in triples]  # type: ignore[arg-type]
    path.write_bytes(ox.serialize(quads, format=ox.RdfFormat.TURTLE, prefixes=_PREFIXES) or b"")


_PREFIXES = {
    **PREFIXES,
    **{
        kind: f"{ID}{kind}/"
        for kind in (
            *("engagement", "person", "post", "organization", "country", "place", "source"),
            *("quote", "claim", "topic"),
        )
    },
    "etype": f"{ID}engagement-type/",
    "wdlink": f"{ID}wikidata-link/",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", type=Path, help="directory to write (outside the checkout's data/)")
    parser.add_argument("--engagements", "-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--violations", type=int, default=0)
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="the real tree (templates)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out.is_relative_to((REPO_ROOT / "data").resolve()) or out == REPO_ROOT.resolve():
        parser.error("the output must lie outside the checkout's data/ (it is never published)")
    summary = Generator(args.source, args.engagements, args.seed).write(out, args.violations)
    print(json.dumps({"out": str(out), **summary}), file=sys.stdout)


if __name__ == "__main__":
    main()
