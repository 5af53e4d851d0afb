"""OWL 2 RL reasoning: the inferred graph is the closure minus what was asserted, restricted.

The restriction (:func:`is_meaningful`) is defined here once; every engine's output
goes through it, and any faster engine must give the same restricted set as
:func:`owlrl_closure`, the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyoxigraph as ox
import rdflib

from defence_engagements.errors import ConfigurationError
from defence_engagements.pipeline.parse import ParsedFile
from defence_engagements.pipeline.workspace import remove_files

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"

# The W3C vocabularies whose own terms the OWL 2 RL axiomatic triples describe.
VOCABULARY_NAMESPACES = (RDF, RDFS, OWL, XSD)
# Predicates for which ``x p x`` holds of every term and so says nothing.
REFLEXIVE_TAUTOLOGIES = frozenset(
    {
        OWL + "sameAs",
        OWL + "equivalentClass",
        OWL + "equivalentProperty",
        RDFS + "subClassOf",
        RDFS + "subPropertyOf",
    }
)
# ``c rdfs:subClassOf owl:Thing`` holds of every class (OWL 2 RL rule scm-cls).
UNIVERSAL_SUPERCLASSES = frozenset({OWL + "Thing", RDFS + "Resource"})

Engine = Callable[[Iterable[ox.Triple]], set[ox.Triple]]


def is_meaningful(triple: ox.Triple) -> bool:
    """Whether an inferred triple is published. It is not when:

    1. its subject is a literal (``"x" rdf:type xsd:string``), which RDF 1.1 cannot hold;
    2. its predicate is not an IRI;
    3. its subject is a term of the RDF, RDFS, OWL or XSD vocabularies (the axiomatic
       triples: ``rdf:type a rdf:Property``, ``owl:Nothing rdfs:subClassOf dex:X``,
       ``xsd:date a rdfs:Datatype``…);
    4. it is reflexive on owl:sameAs, owl:equivalentClass, owl:equivalentProperty,
       rdfs:subClassOf or rdfs:subPropertyOf (``x owl:sameAs x``);
    5. it is ``c rdfs:subClassOf owl:Thing`` (or ``rdfs:Resource``), true of every class.
    """
    subject, predicate, obj = triple.subject, triple.predicate, triple.object
    if not isinstance(subject, ox.NamedNode | ox.BlankNode):
        return False
    if not isinstance(predicate, ox.NamedNode):
        return False
    if isinstance(subject, ox.NamedNode) and subject.value.startswith(VOCABULARY_NAMESPACES):
        return False
    if predicate.value in REFLEXIVE_TAUTOLOGIES and subject == obj:
        return False
    return not (
        predicate.value == RDFS + "subClassOf"
        and isinstance(obj, ox.NamedNode)
        and obj.value in UNIVERSAL_SUPERCLASSES
    )


def restrict(triples: Iterable[ox.Triple]) -> set[ox.Triple]:
    return {t for t in triples if is_meaningful(t)}


def owlrl_closure(triples: Iterable[ox.Triple]) -> set[ox.Triple]:
    """The reference: owlrl's OWL 2 RL closure minus the input, unrestricted (as far as
    RDF 1.1 terms can carry it: triples with literal subjects are dropped)."""
    import owlrl  # imported here: it takes a while and only the reference needs it

    graph = rdflib.Graph()
    for t in triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    asserted = set(graph)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    inferred: set[ox.Triple] = set()
    for s, p, o in set(graph) - asserted:
        if isinstance(s, rdflib.Literal) or not isinstance(p, rdflib.URIRef):
            continue
        inferred.add(ox.Triple(from_rdflib(s), from_rdflib(p), from_rdflib(o)))  # type: ignore[arg-type]
    return inferred


def rules_closure(triples: Iterable[ox.Triple]) -> set[ox.Triple]:
    """The fast engine (pipeline/rules.py): the OWL 2 RL rules run inside pyoxigraph.

    tests/performance proves its restricted closure equal to :func:`owlrl_closure`'s
    on the real data and on generated data; owlrl stays the reference
    (``ENGAGEMENTS_REASONER=owlrl``).
    """
    from defence_engagements.pipeline import rules

    return rules.inferred(triples)


ENGINES: dict[str, Engine] = {"owlrl": owlrl_closure, "rules": rules_closure}


def infer(
    ontology: Iterable[ox.Triple], data: Iterable[ox.Triple], *, engine: str = "owlrl"
) -> set[ox.Triple]:
    """The inferred graph: the closure of ontology + data, minus asserted, restricted."""
    asserted = {*ontology, *data}
    try:
        run = ENGINES[engine]
    except KeyError:
        raise ConfigurationError(
            f"unknown reasoner {engine!r}: set ENGAGEMENTS_REASONER to one of {sorted(ENGINES)}"
        ) from None
    return restrict(run(asserted)) - asserted


def infer_in_store(store: ox.Store, asserted: Iterable[ParsedFile], *, engine: str) -> None:
    """Turn the default graph of the build's working store, which holds exactly the
    ``asserted`` files, into the inferred graph: what :func:`infer` gives, computed in
    place (the rules engine never makes the triples into Python objects)."""
    asserted = list(asserted)
    if engine == "rules":
        from defence_engagements.pipeline import rules

        rules.close_store(store)
        remove_files(store, asserted)
    else:
        triples = [q.triple for q in store]
        inferred = infer([], triples, engine=engine)
        store.clear()
        store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in inferred)
    # The closure holds few triples the restriction drops; find them with a query
    # that returns a superset, and let is_meaningful decide.
    vocabulary = " || ".join(f'STRSTARTS(STR(?s), "{ns}")' for ns in VOCABULARY_NAMESPACES)
    universal = ", ".join(f"<{iri}>" for iri in sorted(UNIVERSAL_SUPERCLASSES))
    candidates = store.query(
        "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER("
        f"(isIRI(?s) && ({vocabulary})) || sameTerm(?s, ?o)"
        f" || (?p = <{RDFS}subClassOf> && ?o IN ({universal}))) }}"
    )
    dropped = [
        ox.Quad(row["s"], row["p"], row["o"])
        for row in candidates
        if not is_meaningful(ox.Triple(row["s"], row["p"], row["o"]))
    ]
    for quad in dropped:
        store.remove(quad)


def to_rdflib(term: ox.Term) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language, normalize=False)
        return rdflib.Literal(
            term.value, datatype=rdflib.URIRef(term.datatype.value), normalize=False
        )
    raise TypeError(f"not an RDF 1.1 term: {term!r}")


def from_rdflib(term: rdflib.term.Node) -> ox.Term:
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, rdflib.Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        datatype = term.datatype or rdflib.XSD.string
        return ox.Literal(str(term), datatype=ox.NamedNode(str(datatype)))
    raise TypeError(f"not an RDF 1.1 term: {term!r}")
