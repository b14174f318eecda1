#!/usr/bin/python3
"""
Generates the tiny random-weight base models under models/ that the tests (and the offline demo) use
in place of real checkpoints, without Python `transformers`/`tokenizers` (not installable here):

- models/tiny-bert: a BERT (model_type "bert"), pooled by hfselect with `pooler_output`;
- models/tiny-distilbert: a DistilBERT, pooled with the first token's hidden state;
- models/tiny-sentence-bert: tiny-bert's very files in the sentence-transformers layout (modules.json,
  1_Pooling/), pooled with the attention-mask-weighted mean. Same weights, so git stores them once.

Each folder holds `onnx/model.onnx` (for transformers.js) and `model.safetensors` (tensor names exactly
as `BertModel`/`DistilBertModel.save_pretrained` write them), both from the same float32 weights, plus
config.json, tokenizer.json (WordPiece, written by hand in the `tokenizers` JSON format),
tokenizer_config.json and vocab.txt.

The torch modules below reproduce Hugging Face's BertModel and DistilBertModel forward passes in eval
mode (transformers 4.x eager attention). test/fixtures/tiny-models/torch-reference.json records their
outputs on a few fixed id sequences so the tests can check the ONNX graphs against them.

Deterministic: weights come from numpy's legacy RandomState (stream stable across numpy versions).
Run with Debian's python3 (python3-torch, python3-onnx):  /usr/bin/python3 scripts/make_tiny_models.py
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")
REFERENCE = os.path.join(ROOT, "test", "fixtures", "tiny-models", "torch-reference.json")
SEED = 20240611
OPSET = 14

HIDDEN = 32
LAYERS = 2
HEADS = 2
INTERMEDIATE = 64
MAX_POSITIONS = 128  # hfselect tokenises with max_length=128
LAYER_NORM_EPS = 1e-12  # BERT's default; DistilBERT hard-codes the same

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCTUATION = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
DIGITS = list("0123456789")
LETTERS = list("abcdefghijklmnopqrstuvwxyz")
SUFFIXES = ("s es ed d ing er ers est ly ness ment ful less able ion tion al y ie ish ive ous ity "
            "en n t re un").split()
WORDS = """
the a an and or but not no nor if then than so too very really quite just also only even still
is was are were be been being am it its this that these those there here i you he she we they me him
us them my your his her our their mine yours of to in on at for with from by about as into over under
after before between through during without against up down out off again once all any each few more
most other some such own same can will would could should may might must do does did done have has had
having one two three four five ten first second last next new old long short big small large little
good bad great terrible awful excellent nice fine best worst better worse right wrong true false
love hate like enjoy want need feel think know see look watch read write say said tell ask answer
question go went come came make made take took get got give gave find found work play run walk talk
movie film book story plot actor acting music song show series scene end ending character characters
food service place restaurant hotel room staff price money pay buy sell market stock company business
time day days night week month year years today people person man woman men women child children
world life home house city country car road school student teacher class news sport sports game team
win won lose lost match score goal science technology computer phone data model language text word
sentence review reviews product quality happy sad funny boring beautiful interesting amazing
disappointing fast slow hot cold easy hard free full empty open close early late high low strong weak
positive negative neutral yes nothing something everything anything never always often sometimes
""".split()


def vocabulary():
    tokens = SPECIAL + PUNCTUATION + DIGITS + LETTERS + [f"##{c}" for c in LETTERS + DIGITS]
    tokens += [f"##{s}" for s in SUFFIXES]
    tokens += WORDS
    return list(dict.fromkeys(tokens))  # single letters ("a", "i", "##s", …) appear in two lists


class Weights:
    """float32 weights drawn in a fixed order; larger than HF's init (std 0.02) so every parameter,
    biases and LayerNorm affine included, visibly changes the outputs the tests compare."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)

    def normal(self, shape, scale):
        return torch.from_numpy(self.rng.normal(0.0, scale, size=shape).astype(np.float32))

    def linear(self, module):
        fan_in = module.weight.shape[1]
        module.weight.data = self.normal(tuple(module.weight.shape), 1.0 / math.sqrt(fan_in))
        module.bias.data = self.normal(tuple(module.bias.shape), 0.1)

    def layer_norm(self, module):
        module.weight.data = 1.0 + self.normal(tuple(module.weight.shape), 0.1)
        module.bias.data = self.normal(tuple(module.bias.shape), 0.1)

    def embedding(self, module):
        module.weight.data = self.normal(tuple(module.weight.shape), 1.0)


def split_heads(x, heads):
    batch, length, width = x.shape
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def merge_heads(x):
    batch, heads, length, size = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * size)


# ---- BERT, with HF BertModel's module and parameter names ------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, HIDDEN, padding_idx=0)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.token_type_embeddings = nn.Embedding(2, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.register_buffer("position_ids", torch.arange(MAX_POSITIONS).unsqueeze(0), persistent=False)

    def forward(self, input_ids, token_type_ids):
        positions = self.position_ids[:, : input_ids.shape[1]]
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, hidden, additive_mask):
        q, k, v = (split_heads(f(hidden), HEADS) for f in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + additive_mask
        return merge_heads(torch.softmax(scores, dim=-1) @ v)


class DenseLayerNorm(nn.Module):
    """BertSelfOutput and BertOutput: LayerNorm(dense(x) + residual)."""

    def __init__(self, width_in):
        super().__init__()
        self.dense = nn.Linear(width_in, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self = BertSelfAttention()
        self.output = DenseLayerNorm(HIDDEN)

    def forward(self, hidden, additive_mask):
        return self.output(self.self(hidden, additive_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, INTERMEDIATE)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))  # hidden_act "gelu": the exact erf form


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = BertAttention()
        self.intermediate = BertIntermediate()
        self.output = DenseLayerNorm(INTERMEDIATE)

    def forward(self, hidden, additive_mask):
        attended = self.attention(hidden, additive_mask)
        return self.output(self.intermediate(attended), attended)


class LayerStack(nn.Module):
    """BertEncoder and DistilBERT's Transformer: LAYERS blocks applied in turn, under `.layer`."""

    def __init__(self, block):
        super().__init__()
        self.layer = nn.ModuleList([block() for _ in range(LAYERS)])

    def forward(self, hidden, mask):
        for layer in self.layer:
            hidden = layer(hidden, mask)
        return hidden


class BertPooler(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab_size)
        self.encoder = LayerStack(BertLayer)
        self.pooler = BertPooler()

    def forward(self, input_ids, attention_mask, token_type_ids):
        # HF's get_extended_attention_mask: 0 where attended, the dtype's minimum where masked.
        additive_mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), additive_mask)
        return hidden, self.pooler(hidden)

    def init_weights(self, weights):
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                weights.embedding(module)
            elif isinstance(module, nn.Linear):
                weights.linear(module)
            elif isinstance(module, nn.LayerNorm):
                weights.layer_norm(module)

    def config(self, vocab_size):
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": HIDDEN,
            "initializer_range": 0.02,
            "intermediate_size": INTERMEDIATE,
            "layer_norm_eps": LAYER_NORM_EPS,
            "max_position_embeddings": MAX_POSITIONS,
            "num_attention_heads": HEADS,
            "num_hidden_layers": LAYERS,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "torch_dtype": "float32",
            "type_vocab_size": 2,
            "use_cache": True,
            "vocab_size": vocab_size,
        }


# ---- DistilBERT, with HF DistilBertModel's module and parameter names ------------------------------


class DistilEmbeddings(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, HIDDEN, padding_idx=0)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.register_buffer("position_ids", torch.arange(MAX_POSITIONS).unsqueeze(0), persistent=False)

    def forward(self, input_ids):
        positions = self.position_ids[:, : input_ids.shape[1]]
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(positions))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_lin = nn.Linear(HIDDEN, HIDDEN)
        self.k_lin = nn.Linear(HIDDEN, HIDDEN)
        self.v_lin = nn.Linear(HIDDEN, HIDDEN)
        self.out_lin = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, hidden, attention_mask):
        q = split_heads(self.q_lin(hidden), HEADS) / math.sqrt(HIDDEN // HEADS)
        k = split_heads(self.k_lin(hidden), HEADS)
        v = split_heads(self.v_lin(hidden), HEADS)
        scores = q @ k.transpose(-1, -2)
        # DistilBERT masks by filling with the dtype's minimum rather than adding it.
        masked = (attention_mask == 0)[:, None, None, :].expand_as(scores)
        scores = scores.masked_fill(masked, torch.finfo(torch.float32).min)
        return self.out_lin(merge_heads(torch.softmax(scores, dim=-1) @ v))


class FFN(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(HIDDEN, INTERMEDIATE)
        self.lin2 = nn.Linear(INTERMEDIATE, HIDDEN)

    def forward(self, x):
        return self.lin2(nn.functional.gelu(self.lin1(x)))


class TransformerBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = MultiHeadSelfAttention()
        self.sa_layer_norm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.ffn = FFN()
        self.output_layer_norm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)

    def forward(self, hidden, attention_mask):
        attended = self.sa_layer_norm(self.attention(hidden, attention_mask) + hidden)
        return self.output_layer_norm(self.ffn(attended) + attended)


class DistilBertModel(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embeddings = DistilEmbeddings(vocab_size)
        self.transformer = LayerStack(TransformerBlock)

    def forward(self, input_ids, attention_mask):
        return self.transformer(self.embeddings(input_ids), attention_mask)

    init_weights = BertModel.init_weights

    def config(self, vocab_size):
        return {
            "architectures": ["DistilBertModel"],
            "model_type": "distilbert",
            "activation": "gelu",
            "attention_dropout": 0.1,
            "dim": HIDDEN,
            "dropout": 0.1,
            "hidden_dim": INTERMEDIATE,
            "initializer_range": 0.02,
            "max_position_embeddings": MAX_POSITIONS,
            "n_heads": HEADS,
            "n_layers": LAYERS,
            "pad_token_id": 0,
            "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2,
            "sinusoidal_pos_embds": False,
            "tie_weights_": True,
            "torch_dtype": "float32",
            "vocab_size": vocab_size,
        }


# ---- files -----------------------------------------------------------------------------------------


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_safetensors(path, state_dict):
    """The safetensors layout by hand (the Python package is not installed here): u64 header length,
    JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then the little-endian bytes."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(state_dict):
        array = state_dict[name].detach().cpu().numpy().astype("<f4")
        blob = array.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for blob in blobs:
            f.write(blob)


def tokenizer_json(vocab):
    ids = {token: i for i, token in enumerate(vocab)}
    special = lambda token: {"id": ids[token], "content": token, "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True}
    template_token = lambda token, type_id: {"SpecialToken": {"id": token, "type_id": type_id}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(t) for t in SPECIAL],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [template_token("[CLS]", 0), {"Sequence": {"id": "A", "type_id": 0}}, template_token("[SEP]", 0)],
            "pair": [template_token("[CLS]", 0), {"Sequence": {"id": "A", "type_id": 0}}, template_token("[SEP]", 0),
                     {"Sequence": {"id": "B", "type_id": 1}}, template_token("[SEP]", 1)],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def tokenizer_config(tokenizer_class):
    return {
        "tokenizer_class": tokenizer_class,
        "do_lower_case": True,
        "tokenize_chinese_chars": True,
        "strip_accents": None,
        "model_max_length": MAX_POSITIONS,
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "mask_token": "[MASK]",
    }


def export_onnx(model, path, inputs, input_names, output_names):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in input_names + ["last_hidden_state"]}
    if "pooler_output" in output_names:
        axes["pooler_output"] = {0: "batch_size"}
    torch.onnx.export(model, inputs, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def write_common(folder, model, vocab, tokenizer_class, name):
    write_json(os.path.join(folder, "config.json"), model.config(len(vocab)))
    write_json(os.path.join(folder, "tokenizer.json"), tokenizer_json(vocab))
    write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_config(tokenizer_class))
    write_json(os.path.join(folder, "special_tokens_map.json"),
               {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"})
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in vocab))
    write_safetensors(os.path.join(folder, "model.safetensors"), model.state_dict())
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(f"# {name}\n\nRandom-weight TEST FIXTURE, not a trained model: its embeddings mean nothing. "
                "Generated by scripts/make_tiny_models.py for the tests and the offline demo.\n")


def rounded(tensor):
    """Seven decimals: far below the float32 ONNX-vs-torch differences the tests tolerate."""
    return np.round(tensor.numpy().astype(np.float64), 7).tolist()


def probe_inputs(vocab_size):
    """Fixed id sequences for the torch reference: [CLS] … [SEP], right-padded, one with a second segment."""
    rng = np.random.RandomState(SEED + 1)
    lengths = [12, 7, 3]
    input_ids = np.zeros((3, 12), dtype=np.int64)
    attention_mask = np.zeros((3, 12), dtype=np.int64)
    token_type_ids = np.zeros((3, 12), dtype=np.int64)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.randint(len(SPECIAL), vocab_size, size=length)
        input_ids[row, 0], input_ids[row, length - 1] = 2, 3
        attention_mask[row, :length] = 1
    input_ids[0, 6] = 3  # [CLS] a [SEP] b [SEP]
    token_type_ids[0, 7:12] = 1
    return [torch.from_numpy(a) for a in (input_ids, attention_mask, token_type_ids)]


def main():
    torch.manual_seed(SEED)
    vocab = vocabulary()
    input_ids, attention_mask, token_type_ids = probe_inputs(len(vocab))
    reference = {"generator": "scripts/make_tiny_models.py", "seed": SEED, "input_ids": input_ids.tolist(),
                 "attention_mask": attention_mask.tolist(), "token_type_ids": token_type_ids.tolist(), "models": {}}

    bert = BertModel(len(vocab)).eval()
    bert.init_weights(Weights(SEED))
    folder = os.path.join(MODELS, "tiny-bert")
    shutil.rmtree(folder, ignore_errors=True)
    write_common(folder, bert, vocab, "BertTokenizer", "tiny-bert")
    export_onnx(bert, os.path.join(folder, "onnx", "model.onnx"), (input_ids, attention_mask, token_type_ids),
                ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"])
    with torch.no_grad():
        hidden, pooled = bert(input_ids, attention_mask, token_type_ids)
    reference["models"]["tiny-bert"] = {"last_hidden_state": rounded(hidden), "pooler_output": rounded(pooled)}

    distil = DistilBertModel(len(vocab)).eval()
    distil.init_weights(Weights(SEED + 2))
    folder = os.path.join(MODELS, "tiny-distilbert")
    shutil.rmtree(folder, ignore_errors=True)
    write_common(folder, distil, vocab, "DistilBertTokenizer", "tiny-distilbert")
    export_onnx(distil, os.path.join(folder, "onnx", "model.onnx"), (input_ids, attention_mask),
                ["input_ids", "attention_mask"], ["last_hidden_state"])
    with torch.no_grad():
        hidden = distil(input_ids, attention_mask)
    reference["models"]["tiny-distilbert"] = {"last_hidden_state": rounded(hidden)}

    # tiny-bert wrapped the way sentence-transformers saves a Transformer + mean Pooling model.
    source, folder = os.path.join(MODELS, "tiny-bert"), os.path.join(MODELS, "tiny-sentence-bert")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write("# tiny-sentence-bert\n\nRandom-weight TEST FIXTURE, not a trained model: tiny-bert's weights in the "
                "sentence-transformers layout (mean pooling). Generated by scripts/make_tiny_models.py.\n")
    write_json(os.path.join(folder, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ])
    write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": MAX_POSITIONS, "do_lower_case": False})
    write_json(os.path.join(folder, "config_sentence_transformers.json"), {"__version__": {"sentence_transformers": "2.2.2"}})
    write_json(os.path.join(folder, "1_Pooling", "config.json"), {
        "word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    })

    os.makedirs(os.path.dirname(REFERENCE), exist_ok=True)
    with open(REFERENCE, "w", encoding="utf-8") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote models/tiny-bert, models/tiny-distilbert, models/tiny-sentence-bert and {os.path.relpath(REFERENCE, ROOT)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
