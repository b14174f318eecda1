import type { TextTask } from '../../src/finetune/data.js';
import { randomGenerator } from './random.js';

/** Words of the tiny models' vocabulary that carry no label in the synthetic tasks. */
const FILLER = 'the a and of to in it this that was is with for on at by from about as one two day time people place world life home city year week'.split(' ');

/**
 * A learnable text task: each example is a few filler words with one keyword of its class mixed in,
 * so the label is a function of a single token the model must learn to find. Deterministic in `seed`.
 */
export function keywordTask(id: string, keywords: Record<string, readonly string[]>, size: number, seed: number): TextTask {
  const rng = randomGenerator(seed);
  const classes = Object.keys(keywords);
  const texts: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < size; i++) {
    const label = classes[i % classes.length];
    const choices = keywords[label];
    const words = Array.from({ length: 2 + rng.integer(3) }, () => choices[rng.integer(choices.length)]);
    for (let k = rng.integer(3); k > 0; k--) words.splice(rng.integer(words.length + 1), 0, FILLER[rng.integer(FILLER.length)]);
    texts.push(words.join(' '));
    labels.push(label);
  }
  return { id, task: 'classification', texts, labels, textColumn: 'text', labelColumn: 'label' };
}

export const SENTIMENT = { negative: ['bad', 'terrible', 'awful', 'worst', 'boring'], positive: ['good', 'great', 'excellent', 'best', 'amazing'] } as const;
export const TOPIC = { food: ['food', 'restaurant', 'price'], sport: ['game', 'team', 'match'], science: ['science', 'data', 'computer'] } as const;
