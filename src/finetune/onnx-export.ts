import { type Attribute, encodeModel, FLOAT, INT64, type Initializer, type Node } from '../io/onnx-proto.js';
import type { EncoderConfig } from './model-config.js';

/** LayerNormalization is a standard operator from opset 17 on. */
const OPSET = 17;
/** torch.finfo(torch.float32).min: HF's additive attention mask, as the TF.js encoder adds it. */
const MASKED_SCORE = -3.4028234663852886e38;

/** Collects the nodes and initialisers of a graph, naming intermediate values in order. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private count = 0;

  op(op: string, inputs: readonly string[], attributes?: Record<string, Attribute>, output?: string): string {
    const name = output ?? `t${this.count++}`;
    this.nodes.push({ op, inputs, outputs: [name], attributes });
    return name;
  }

  constant(name: string, dims: readonly number[], values: Float32Array | readonly number[], type: typeof FLOAT | typeof INT64 = FLOAT): string {
    this.initializers.push({ name, dims, type, values });
    return name;
  }
}

/** A [rows, columns] matrix transposed, so that MatMul(x, Wᵀ) is nn.Linear's x Wᵀ with W stored [out, in]. */
function transposed(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c];
  return out;
}

/**
 * A BERT encoder (HF's BertModel up to `last_hidden_state`) as an ONNX graph, the format the
 * embedder runs through transformers.js: inputs `input_ids`, `attention_mask`, `token_type_ids`
 * ([batch_size, sequence_length], int64), output `last_hidden_state` ([batch_size,
 * sequence_length, hidden], float32) — as optimum exports a sentence-transformers model, with no
 * pooler. The operations follow SequenceClassifier.hiddenStates step for step (scores scaled after
 * the product, the additive mask, exact erf GELU), so the two agree to float32 rounding.
 * `weights` holds the BertModel tensors by name, without a `bert.` prefix.
 */
export function encodeBertOnnx(config: EncoderConfig, weights: ReadonlyMap<string, Float32Array>, producer = 'esmselect'): Uint8Array {
  if (config.architecture !== 'bert') throw new Error('ONNX export is implemented for BERT only');
  const h = config.hiddenSize;
  const heads = config.numHeads;
  const headSize = h / heads;
  const g = new GraphBuilder();
  const weight = (name: string): Float32Array => {
    const values = weights.get(name);
    if (!values) throw new Error(`no tensor ${name} to export`);
    return values;
  };
  const parameter = (name: string, dims: readonly number[]) => g.constant(name, dims, weight(name));
  const dense = (x: string, prefix: string, inputs: number, outputs: number) =>
    g.op('Add', [
      g.op('MatMul', [x, g.constant(`${prefix}.weight.T`, [inputs, outputs], transposed(weight(`${prefix}.weight`), outputs, inputs))]),
      parameter(`${prefix}.bias`, [outputs]),
    ]);
  const norm = (x: string, prefix: string) =>
    g.op('LayerNormalization', [x, parameter(`${prefix}.weight`, [h]), parameter(`${prefix}.bias`, [h])], {
      axis: { int: -1 },
      epsilon: { float: config.layerNormEps },
    });
  const scalars = new Map<string, string>();
  const scalar = (name: string, value: number): string => {
    if (!scalars.has(name)) scalars.set(name, g.constant(name, [], [value]));
    return scalars.get(name)!;
  };
  const half = scalar('half', 0.5);
  const one = scalar('one', 1);
  const activate = (x: string): string => {
    switch (config.activation) {
      case 'relu':
        return g.op('Relu', [x]);
      case 'gelu':
        // 0.5·x·(1 + erf(x/√2))
        return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [g.op('Erf', [g.op('Mul', [x, scalar('sqrt_half', Math.SQRT1_2)])]), one])]);
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const cubic = g.op('Mul', [g.op('Pow', [x, scalar('three', 3)]), scalar('gelu_coefficient', 0.044715)]);
        const inner = g.op('Mul', [g.op('Add', [x, cubic]), scalar('sqrt_2_over_pi', Math.sqrt(2 / Math.PI))]);
        return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [g.op('Tanh', [inner]), one])]);
      }
    }
  };

  // Embeddings: word + position (the first sequence_length rows) + token type, then LayerNorm.
  const length = g.op('Slice', [g.op('Shape', ['input_ids']), g.constant('one_index', [1], [1], INT64), g.constant('two_index', [1], [2], INT64)]);
  const positions = g.op('Slice', [
    parameter('embeddings.position_embeddings.weight', [config.maxPositions, h]),
    g.constant('zero_index', [1], [0], INT64),
    length,
    g.constant('axis_0', [1], [0], INT64),
  ]);
  const words = g.op('Gather', [parameter('embeddings.word_embeddings.weight', [config.vocabSize, h]), 'input_ids'], { axis: { int: 0 } });
  const types = g.op('Gather', [parameter('embeddings.token_type_embeddings.weight', [config.typeVocabSize, h]), 'token_type_ids'], { axis: { int: 0 } });
  let hidden = norm(g.op('Add', [g.op('Add', [words, positions]), types]), 'embeddings.LayerNorm');

  // (1 − mask) · float32 min, as [batch, 1, 1, length].
  const inverted = g.op('Sub', [one, g.op('Cast', ['attention_mask'], { to: { int: FLOAT } })]);
  const scoreMask = g.op('Unsqueeze', [g.op('Mul', [inverted, scalar('masked_score', MASKED_SCORE)]), g.constant('axes_1_2', [2], [1, 2], INT64)]);
  const headsShape = g.constant('heads_shape', [4], [0, 0, heads, headSize], INT64);
  const hiddenShape = g.constant('hidden_shape', [3], [0, 0, h], INT64);
  const split = (x: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [x, headsShape])], { perm: { ints: perm } });
  const scale = scalar('score_scale', 1 / Math.sqrt(headSize));

  for (let i = 0; i < config.numLayers; i++) {
    const layer = `encoder.layer.${i}`;
    const q = split(dense(hidden, `${layer}.attention.self.query`, h, h), [0, 2, 1, 3]);
    const kT = split(dense(hidden, `${layer}.attention.self.key`, h, h), [0, 2, 3, 1]);
    const v = split(dense(hidden, `${layer}.attention.self.value`, h, h), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), scale]), scoreMask]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: { ints: [0, 2, 1, 3] } }), hiddenShape]);
    const attended = norm(g.op('Add', [dense(merged, `${layer}.attention.output.dense`, h, h), hidden]), `${layer}.attention.output.LayerNorm`);
    const intermediate = activate(dense(attended, `${layer}.intermediate.dense`, h, config.intermediateSize));
    hidden = norm(g.op('Add', [dense(intermediate, `${layer}.output.dense`, config.intermediateSize, h), attended]), `${layer}.output.LayerNorm`);
  }
  g.op('Identity', [hidden], undefined, 'last_hidden_state');

  const tokens = ['batch_size', 'sequence_length'];
  return encodeModel(
    {
      name: 'bert',
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, type: INT64, dims: tokens })),
      outputs: [{ name: 'last_hidden_state', type: FLOAT, dims: [...tokens, h] }],
    },
    OPSET,
    producer,
  );
}
