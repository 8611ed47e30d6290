import pytest

from kb.rerank import NoReranker
from kb.retrieve import HybridRetriever, keep_best, reciprocal_rank_fusion, zscore_fusion
from kb.types import Chunk, DocumentMeta, SearchFilter


def _c(name):
    return Chunk(chunk_id=name, meta=DocumentMeta(doc_id=name, source=name, title=name), text=name,
                 section="", start=0, end=1, index=0)


def test_rrf_rewards_agreement_and_keeps_stage_scores():
    a, b, c = _c("a"), _c("b"), _c("c")
    fused = reciprocal_rank_fusion({"dense": [(a, 0.9), (b, 0.8)], "bm25": [(b, 5.0), (c, 4.0)]}, k=60)
    assert [h.chunk.chunk_id for h in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0].scores["dense"] == 0.8 and fused[0].scores["bm25"] == 5.0
    assert "bm25" not in fused[1].scores


def test_zscore_fusion_follows_the_retriever_that_is_sure():
    """RRF lets the nearly flat dense order outvote BM25's clear winner 'a'; z-scores keep 'a' on
    top, because dense scores that hardly differ say little about this question."""
    a, b, c, d = _c("a"), _c("b"), _c("c"), _c("d")
    dense = [(c, 0.81), (b, 0.80), (d, 0.80), (a, 0.79)]
    bm25 = [(a, 20.0), (b, 5.0), (c, 4.0), (d, 3.0)]
    assert reciprocal_rank_fusion({"dense": dense, "bm25": bm25}, k=60)[0].chunk.chunk_id != "a"
    fused = zscore_fusion({"dense": dense, "bm25": bm25}, {"dense": 0.5})
    assert [h.chunk.chunk_id for h in fused][:2] == ["a", "c"]
    assert fused[0].scores["bm25_rank"] == 1 and fused[0].scores["dense_rank"] == 4


def test_each_retrievers_first_hit_stays_among_the_first_fused_hits():
    """Restatements that both retrievers like push down the passage the dense side is surest of; it
    is kept at place 3 at worst, and the rest keep their fused order."""
    chunks = {n: _c(n) for n in "abcdefgh"}
    dense = [(chunks["h"], 0.95)] + [(chunks[n], 0.80 - i / 100) for i, n in enumerate("abcdefg")]
    bm25 = [(chunks[n], 20.0 - i) for i, n in enumerate("abcdefg")]
    fused = zscore_fusion({"dense": dense, "bm25": bm25}, {"dense": 0.5})
    assert [h.chunk.chunk_id for h in fused].index("h") > 2
    kept = keep_best(fused, {"dense": dense, "bm25": bm25}, 3)
    assert [h.chunk.chunk_id for h in kept] == ["a", "b", "h"] + [h.chunk.chunk_id for h in fused if h.chunk.chunk_id
                                                                  not in "abh"]
    assert keep_best(fused, {"dense": dense, "bm25": bm25}, 0) == fused


def test_zscore_fusion_of_one_ranking_keeps_its_order_and_missing_hits_count_as_its_lowest():
    a, b, c = _c("a"), _c("b"), _c("c")
    assert [h.chunk.chunk_id for h in zscore_fusion({"bm25": [(b, 3.0), (a, 2.0), (c, 1.0)]})] == ["b", "a", "c"]
    fused = zscore_fusion({"dense": [(a, 0.9), (b, 0.5)], "bm25": [(b, 9.0), (c, 1.0)]})
    lowest_dense = zscore_fusion({"dense": [(a, 0.9), (b, 0.5)]})[1].score
    assert next(h for h in fused if h.chunk.chunk_id == "c").score == pytest.approx(lowest_dense - 1.0)


def test_filters_reach_both_retrievers(corpus_kb):
    flt = SearchFilter(doc_types=("forløbsbeskrivelse",))
    for mode in ("dense", "bm25"):  # a retriever of its own: the shared fixture is never changed
        retriever = HybridRetriever(corpus_kb.store, corpus_kb.lexical, NoReranker(), corpus_kb.settings.retrieval, mode)
        hits = retriever.retrieve("samarbejde om gravide", None, 10, flt)
        assert hits and all(h.chunk.meta.doc_type == "forløbsbeskrivelse" for h in hits)
    dated = corpus_kb.retriever.retrieve("afrapportering", None, 10, SearchFilter(date_from="2025-01-01"))
    assert dated and all(h.chunk.meta.date >= "2025" for h in dated)


@pytest.mark.parametrize("overfetch_max", [1000, 3])
def test_a_filtered_dense_search_by_admitted_ids_equals_chromas_where(corpus_kb, monkeypatch, overfetch_max):
    """The fast path (neighbours fetched unfiltered, then Chroma among the admitted ids when too few
    pass: forced with a tiny over-fetch) returns what Chroma's own metadata filter returns."""
    import kb.store

    monkeypatch.setattr(kb.store, "OVERFETCH_MAX", overfetch_max)
    vector = corpus_kb.embeddings.embed_query("Hvornår skal kommunerne indsende afrapporteringen?")
    for flt in (SearchFilter(doc_types=("forløbsbeskrivelse",)), SearchFilter(date_from="2024", date_to="2025-06"),
                SearchFilter(doc_types=("anmodning", "sagsfremstilling"), date_from="2020"),
                SearchFilter(doc_types=("findes-ikke",)), SearchFilter(issuers=("Socialstyrelsen",))):
        admitted = corpus_kb.lexical.admitted(flt)
        fast = corpus_kb.store.search(vector, 8, flt, admitted)
        where = corpus_kb.store.search(vector, 8, flt)
        assert [c.chunk_id for c, _ in fast] == [c.chunk_id for c, _ in where], flt
        assert [round(s, 5) for _, s in fast] == [round(s, 5) for _, s in where]
        assert all(flt.matches(c.meta) for c, _ in fast)
    assert corpus_kb.lexical.admitted(SearchFilter(doc_types=("forløbsbeskrivelse",))) < corpus_kb.lexical.ids()


def test_one_organisation_under_all_its_names_in_the_issuer_filter(corpus_kb):
    """KB_ISSUER_ALIASES says Socialstyrelsen is now Social- og Boligstyrelsen: the filter offers the
    organisation once, and choosing it admits the documents of both names and of its units."""
    choices = corpus_kb.issuers()
    assert "Social- og Boligstyrelsen" in choices and not any(c.startswith("Socialstyrelsen") for c in choices)
    answer = corpus_kb.ask("Hvornår skal afrapporteringen sendes?", flt=SearchFilter(issuers=("Social- og Boligstyrelsen",)),
                           k=100)
    issuers = {h.chunk.meta.issuer for h in answer.hits}
    assert issuers == {"Social- og Boligstyrelsen", "Socialstyrelsen", "Socialstyrelsen, Socialtilsyn og National Koordination",
                       "Socialstyrelsen, Socialtilsyn og National koordination"}
    council = next(c for c in choices if c.startswith("Børne- og Ungdomsudvalget"))
    answer = corpus_kb.ask("Hvornår skal afrapporteringen sendes?", flt=SearchFilter(issuers=(council,)))
    assert answer.hits and {h.chunk.meta.issuer for h in answer.hits} == {council}
    # an issuer no document has: the filter admits nothing and the bot says so
    none = corpus_kb.ask("Hvornår skal afrapporteringen sendes?", flt=SearchFilter(issuers=("Finanstilsynet",)))
    assert none.abstained and not none.hits
    for mode in ("dense", "bm25"):
        retriever = HybridRetriever(corpus_kb.store, corpus_kb.lexical, NoReranker(), corpus_kb.settings.retrieval, mode)
        hits = retriever.retrieve("afrapportering", None, 10, SearchFilter(issuers=("Socialstyrelsen",)))
        assert hits and {h.chunk.meta.issuer for h in hits} == {"Socialstyrelsen"}


def test_hybrid_hits_carry_scores_from_every_stage(corpus_kb):
    hits = corpus_kb.retriever.retrieve("senest den 31. maj 2025", None, 10)
    assert len(hits) == 10
    top = hits[0]
    assert {"dense", "bm25", "fused"} <= top.scores.keys()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_langchain_retriever_adapter(corpus_kb):
    from kb.retrieve import KBRetriever

    docs = KBRetriever(retriever=corpus_kb.retriever, k=3).invoke("familieambulatorierne")
    assert len(docs) == 3 and all(d.metadata["title"] for d in docs)
