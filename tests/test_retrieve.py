import pytest

from kb.retrieve import reciprocal_rank_fusion
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


def test_filters_reach_both_retrievers(corpus_kb):
    flt = SearchFilter(doc_types=("forløbsbeskrivelse",))
    for mode in ("dense", "bm25"):
        retriever = corpus_kb.retriever
        retriever.mode = mode
        try:
            hits = retriever.retrieve("samarbejde om gravide", None, 10, flt)
        finally:
            retriever.mode = "hybrid"
        assert hits and all(h.chunk.meta.doc_type == "forløbsbeskrivelse" for h in hits)
    dated = corpus_kb.retriever.retrieve("afrapportering", None, 10, SearchFilter(date_from="2025-01-01"))
    assert dated and all(h.chunk.meta.date >= "2025" for h in dated)


def test_hybrid_hits_carry_scores_from_every_stage(corpus_kb):
    hits = corpus_kb.retriever.retrieve("senest den 31. maj 2025", None, 10)
    assert len(hits) == 10
    top = hits[0]
    assert {"dense", "bm25", "rrf"} <= top.scores.keys()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_langchain_retriever_adapter(corpus_kb):
    from kb.retrieve import KBRetriever

    docs = KBRetriever(retriever=corpus_kb.retriever, k=3).invoke("familieambulatorierne")
    assert len(docs) == 3 and all(d.metadata["title"] for d in docs)
