import type { z } from 'zod';
import type { RankingSpec } from '../../jobs/ranking.js';
import { encodeLabels } from '../../task/labels.js';
import { HttpProblem } from '../http/problem.js';
import type { RankingRequest } from '../http/schemas.js';

/** Refuses `candidates` below `top`. */
export function checkOptions(options: { top?: number; candidates?: number }): void {
  if (options.top !== undefined && options.candidates !== undefined && options.candidates < options.top) {
    throw new HttpProblem('invalid-input', `candidates: ${options.candidates} candidates cannot give the top ${options.top}`, 'candidates');
  }
}

function checkInlineRows(field: string, rows: number, limit: number): void {
  if (rows > limit) throw new HttpProblem('invalid-input', `${field}: ${rows} rows; at most ${limit} go inline (upload the dataset as a file instead)`, field);
}

/**
 * The job spec of an inline target (texts or embeddings), checked as far as the request alone
 * allows: options, labels (one class, mixed kinds surface now rather than in the job), at most
 * `inlineRows` rows. The model is checked by the caller, against the models directory.
 */
export function inlineSpec(request: z.infer<typeof RankingRequest>, inlineRows: number): RankingSpec {
  checkOptions(request);
  const task_type = request.task_type ?? 'classification';
  const common = { task_type, top: request.top, candidates: request.candidates, filters: request.filters ?? {} };
  if ('dataset' in request) {
    // Rows, subset, split and revision are known once the dataset is read (readHubTargetSpec).
    const text_columns = typeof request.text_column === 'string' ? [request.text_column] : request.text_column;
    const hub = {
      dataset: request.dataset,
      subset: request.subset ?? '',
      split: request.split ?? '',
      revision: '',
      text_columns,
      label_column: request.label_column,
      num_examples: request.num_examples,
      seed: request.seed,
    };
    return { input: 'hub', rows: 0, model: request.model, pooling: request.pooling, ...common, hub };
  }
  encodeLabels(request.labels, task_type);
  if ('texts' in request) {
    checkInlineRows('texts', request.texts.length, inlineRows);
    return { input: 'texts', rows: request.texts.length, model: request.model, pooling: request.pooling, ...common };
  }
  checkInlineRows('embeddings', request.embeddings.length, inlineRows);
  return { input: 'embeddings', rows: request.embeddings.length, ...common };
}
