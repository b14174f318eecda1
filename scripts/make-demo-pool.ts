/**
 * Makes the demo pool (demo/esms/) and the demo target (demo/target.csv) that `npm start` serves
 * on a fresh clone: `npx tsx scripts/make-demo-pool.ts`. Deterministic for the seeds below.
 *
 * These are NOT ESMs of real fine-tunes. For each demo source task, a small synthetic dataset is
 * written from word lists, embedded with models/tiny-bert (random weights), and mapped by a fixed,
 * task-specific transformation standing in for "the model fine-tuned on that task":
 * y = tanh(A x + c), with A = I + 0.6 R and R, c drawn from the task's seed. An ESM is then trained on
 * the (x, y) pairs with hfselect's recipe (src/esm/train.ts). Every config says it is a demo.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/config.js';
import { TextEmbedder } from '../src/embed/embedder.js';
import { saveHfselectEsm } from '../src/esm/hfselect.js';
import { trainEsm } from '../src/esm/train.js';
import type { Embeddings } from '../src/io/embeddings.js';
import { seededUniform } from '../src/random.js';

const MODEL = 'tiny-bert';
const EXAMPLES = 160;
const DEVELOPERS = 'esmselect demo pool: synthetic data and a synthetic transformation, not a real fine-tune (see demo/README.md)';
const OUT = join(PACKAGE_ROOT, 'demo');

/** Demo source tasks: a topic vocabulary and two label vocabularies. */
const TASKS: { slug: string; topic: string[]; labels: [string, string[]][] }[] = [
  { slug: 'movie-sentiment', topic: ['movie', 'film', 'plot', 'actor', 'acting', 'scene', 'ending', 'characters'], labels: [['positive', ['great', 'excellent', 'amazing', 'love', 'beautiful']], ['negative', ['boring', 'awful', 'terrible', 'hate', 'disappointing']]] },
  { slug: 'book-reviews', topic: ['book', 'story', 'character', 'ending', 'read', 'write', 'word'], labels: [['positive', ['interesting', 'good', 'enjoy', 'best', 'funny']], ['negative', ['bad', 'worst', 'slow', 'boring', 'sad']]] },
  { slug: 'restaurant-reviews', topic: ['food', 'service', 'restaurant', 'staff', 'price', 'place'], labels: [['positive', ['nice', 'fine', 'great', 'happy', 'fast']], ['negative', ['cold', 'slow', 'bad', 'terrible', 'late']]] },
  { slug: 'hotel-reviews', topic: ['hotel', 'room', 'staff', 'night', 'price', 'place', 'city'], labels: [['positive', ['beautiful', 'nice', 'easy', 'good', 'love']], ['negative', ['hot', 'cold', 'awful', 'worse', 'wrong']]] },
  { slug: 'product-quality', topic: ['product', 'quality', 'price', 'buy', 'money', 'phone', 'computer'], labels: [['positive', ['excellent', 'strong', 'better', 'best', 'fast']], ['negative', ['weak', 'worse', 'disappointing', 'bad', 'slow']]] },
  { slug: 'sports-results', topic: ['game', 'team', 'match', 'score', 'goal', 'sport', 'sports'], labels: [['won', ['win', 'won', 'first', 'best', 'strong']], ['lost', ['lose', 'lost', 'last', 'weak', 'worst']]] },
  { slug: 'market-news', topic: ['market', 'stock', 'company', 'business', 'price', 'money', 'news'], labels: [['up', ['high', 'up', 'strong', 'better', 'positive']], ['down', ['low', 'down', 'weak', 'worse', 'negative']]] },
  { slug: 'school-feedback', topic: ['school', 'student', 'teacher', 'class', 'children', 'question', 'answer'], labels: [['positive', ['good', 'easy', 'happy', 'interesting', 'right']], ['negative', ['hard', 'wrong', 'sad', 'boring', 'bad']]] },
  { slug: 'tech-support', topic: ['computer', 'phone', 'data', 'technology', 'work', 'open', 'close'], labels: [['solved', ['fine', 'right', 'fast', 'easy', 'work']], ['unsolved', ['wrong', 'slow', 'hard', 'never', 'nothing']]] },
  { slug: 'music-opinions', topic: ['music', 'song', 'show', 'series', 'play', 'watch'], labels: [['like', ['love', 'like', 'beautiful', 'enjoy', 'amazing']], ['dislike', ['hate', 'boring', 'awful', 'terrible', 'bad']]] },
  { slug: 'statement-truth', topic: ['science', 'world', 'people', 'life', 'year', 'country', 'language'], labels: [['true', ['true', 'right', 'yes', 'always', 'know']], ['false', ['false', 'wrong', 'no', 'never', 'not']]] },
  { slug: 'time-of-day', topic: ['day', 'night', 'week', 'today', 'time', 'home', 'road'], labels: [['early', ['early', 'first', 'before', 'fast', 'once']], ['late', ['late', 'last', 'after', 'slow', 'again']]] },
];

const FILLER = ['the', 'a', 'it', 'was', 'is', 'very', 'really', 'and', 'but', 'this', 'that', 'so', 'quite', 'just', 'with', 'for', 'of'];

function sentence(uniform: () => number, topic: string[], cue: string[]): string {
  const pick = (words: string[]) => words[Math.floor(uniform() * words.length)];
  const length = 6 + Math.floor(uniform() * 7);
  const words = Array.from({ length }, () => {
    const r = uniform();
    return r < 0.35 ? pick(topic) : r < 0.6 ? pick(cue) : pick(FILLER);
  });
  return words.join(' ');
}

function dataset(seed: number, topic: string[], labels: [string, string[]][], count: number): { text: string; label: string }[] {
  const uniform = seededUniform(seed);
  return Array.from({ length: count }, (_, i) => {
    const [label, cue] = labels[i % labels.length];
    return { text: sentence(uniform, topic, cue), label };
  });
}

/** y = tanh(A x + c), A = I + 0.6 R, with R and c from the task's seed (uniform on [-1, 1] / √d). */
function transform(x: Embeddings, seed: number): Embeddings {
  const { rows, dim } = x;
  const uniform = seededUniform(seed);
  const scale = 1 / Math.sqrt(dim);
  const a = Float64Array.from({ length: dim * dim }, (_, k) => (k % (dim + 1) === 0 ? 1 : 0) + 0.6 * (2 * uniform() - 1) * scale);
  const c = Float64Array.from({ length: dim }, () => 0.3 * (2 * uniform() - 1));
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dim; j++) {
      let s = c[j];
      for (let k = 0; k < dim; k++) s += a[j * dim + k] * x.data[i * dim + k];
      data[i * dim + j] = Math.tanh(s);
    }
  }
  return { rows, dim, data };
}

function csv(rows: { text: string; label: string }[]): string {
  return `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
}

const embedder = await TextEmbedder.load(MODEL);
try {
  await rm(join(OUT, 'esms'), { recursive: true, force: true });
  for (const [index, task] of TASKS.entries()) {
    const seed = 1000 + index;
    const rows = dataset(seed, task.topic, task.labels, EXAMPLES);
    const base = await embedder.embed(rows.map((r) => r.text));
    const { esm, report } = await trainEsm(
      base,
      transform(base, seed + 500),
      {
        task_id: `demo/${task.slug}`,
        base_model_name: MODEL,
        task_split: 'train',
        text_column: 'text',
        label_column: 'label',
        language: 'en',
        num_examples: EXAMPLES,
        developers: DEVELOPERS,
        seed,
      },
      { seed },
    );
    await saveHfselectEsm(esm, join(OUT, 'esms', task.slug));
    process.stdout.write(`demo/${task.slug}: held-out R² ${report.heldOutR2?.toFixed(3)}\n`);
  }
  // The demo target: reviews of products, close to some demo tasks and far from others.
  await mkdir(OUT, { recursive: true });
  await writeFile(join(OUT, 'target.csv'), csv(dataset(7, ['product', 'quality', 'phone', 'buy', 'price', 'review'], [['good', ['great', 'love', 'excellent', 'happy']], ['bad', ['awful', 'hate', 'worst', 'disappointing']]], 60)));
} finally {
  await embedder.dispose();
}
