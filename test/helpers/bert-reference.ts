import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pooling } from '../../src/embed/pooling.js';
import { parseSafetensors, toFloat32 } from '../../src/io/safetensors.js';

/**
 * An independent float64 forward pass of Hugging Face's BertModel and DistilBertModel from the
 * tensors in model.safetensors, one unpadded sequence at a time (padding has zero attention weight,
 * so leaving it out computes the same thing without relying on masks). For checking the ONNX graphs
 * that transformers.js runs.
 */
export interface ReferenceModel {
  readonly kind: 'bert' | 'distilbert';
  readonly hidden: number;
  readonly heads: number;
  readonly layers: number;
  readonly eps: number;
  readonly tensor: (name: string) => Float64Array;
}

export function loadReferenceModel(folder: string): ReferenceModel {
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  const { tensors } = parseSafetensors(readFileSync(join(folder, 'model.safetensors')));
  const tensor = (name: string): Float64Array => {
    const raw = tensors.get(name);
    if (!raw) throw new Error(`${folder}: no tensor ${name}`);
    return Float64Array.from(toFloat32(raw));
  };
  if (config.model_type === 'distilbert') {
    return { kind: 'distilbert', hidden: config.dim, heads: config.n_heads, layers: config.n_layers, eps: 1e-12, tensor };
  }
  return { kind: 'bert', hidden: config.hidden_size, heads: config.num_attention_heads, layers: config.num_hidden_layers, eps: config.layer_norm_eps, tensor };
}

/** y = W·x + b with torch's Linear layout, W `[out, in]`. */
function linear(x: Float64Array, weight: Float64Array, bias: Float64Array): Float64Array {
  const out = new Float64Array(bias.length);
  for (let o = 0; o < out.length; o++) {
    let z = bias[o];
    for (let k = 0; k < x.length; k++) z += weight[o * x.length + k] * x[k];
    out[o] = z;
  }
  return out;
}

/** (x − mean) / √(var + eps) · γ + β, with the biased variance as torch's LayerNorm. */
function layerNorm(x: Float64Array, gamma: Float64Array, beta: Float64Array, eps: number): Float64Array {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i] + beta[i]);
}

/** erf by its Maclaurin series, exact to ~1e-12 for |x| < 4; beyond, |1 − |erf|| < 2e-8. */
function erf(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** hidden_act "gelu": x·Φ(x) = x/2 · (1 + erf(x/√2)). */
const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + b[i]);

/** softmax(q·kᵀ/√d)·v per head, concatenated. */
function selfAttention(q: Float64Array[], k: Float64Array[], v: Float64Array[], heads: number): Float64Array[] {
  const width = q[0].length;
  const size = width / heads;
  return q.map((qt) => {
    const context = new Float64Array(width);
    for (let h = 0; h < heads; h++) {
      const scores = k.map((ku) => {
        let s = 0;
        for (let j = h * size; j < (h + 1) * size; j++) s += qt[j] * ku[j];
        return s / Math.sqrt(size);
      });
      const top = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - top));
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, u) => {
        for (let j = h * size; j < (h + 1) * size; j++) context[j] += (w / total) * v[u][j];
      });
    }
    return context;
  });
}

function row(table: Float64Array, index: number, width: number): Float64Array {
  return table.slice(index * width, (index + 1) * width);
}

/** The last hidden states of the (unpadded) token ids. */
export function lastHiddenState(model: ReferenceModel, ids: readonly number[], tokenTypeIds?: readonly number[]): Float64Array[] {
  const { kind, hidden: width, eps, tensor: t } = model;
  let h = ids.map((id, i) => {
    let x = add(row(t('embeddings.word_embeddings.weight'), id, width), row(t('embeddings.position_embeddings.weight'), i, width));
    if (kind === 'bert') x = add(x, row(t('embeddings.token_type_embeddings.weight'), tokenTypeIds?.[i] ?? 0, width));
    return layerNorm(x, t('embeddings.LayerNorm.weight'), t('embeddings.LayerNorm.bias'), eps);
  });
  for (let layer = 0; layer < model.layers; layer++) {
    const p = kind === 'bert' ? `encoder.layer.${layer}.` : `transformer.layer.${layer}.`;
    const names =
      kind === 'bert'
        ? {
            q: 'attention.self.query',
            k: 'attention.self.key',
            v: 'attention.self.value',
            o: 'attention.output.dense',
            ln1: 'attention.output.LayerNorm',
            up: 'intermediate.dense',
            down: 'output.dense',
            ln2: 'output.LayerNorm',
          }
        : {
            q: 'attention.q_lin',
            k: 'attention.k_lin',
            v: 'attention.v_lin',
            o: 'attention.out_lin',
            ln1: 'sa_layer_norm',
            up: 'ffn.lin1',
            down: 'ffn.lin2',
            ln2: 'output_layer_norm',
          };
    const dense = (name: string, x: Float64Array) => linear(x, t(`${p}${name}.weight`), t(`${p}${name}.bias`));
    const norm = (name: string, x: Float64Array) => layerNorm(x, t(`${p}${name}.weight`), t(`${p}${name}.bias`), eps);
    const context = selfAttention(
      h.map((x) => dense(names.q, x)),
      h.map((x) => dense(names.k, x)),
      h.map((x) => dense(names.v, x)),
      model.heads,
    );
    const attended = context.map((c, i) => norm(names.ln1, add(dense(names.o, c), h[i])));
    h = attended.map((a) => norm(names.ln2, add(dense(names.down, dense(names.up, a).map(gelu)), a)));
  }
  return h;
}

/** hfselect's pooled output of one sequence, computed from the float64 hidden states. */
export function pooledReference(model: ReferenceModel, pooling: Pooling, ids: readonly number[]): Float64Array {
  const h = lastHiddenState(model, ids);
  switch (pooling) {
    case 'first_token':
      return h[0];
    case 'mean':
      return h.reduce((sum, x) => add(sum, x), new Float64Array(model.hidden)).map((v) => v / h.length);
    case 'pooler_output':
      return linear(h[0], model.tensor('pooler.dense.weight'), model.tensor('pooler.dense.bias')).map(Math.tanh);
  }
}
