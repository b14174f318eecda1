import type { StudyConfig } from './config.js';
import { generateFamily, type TaskFamily } from './tasks.js';
import { readCorpus } from './wordnet/corpus.js';
import { generateWordNetFamily, type WordNetFamily } from './wordnet/tasks.js';

/** The task family of a study's config: the synthetic keyword tasks, or WordNet's (from the shipped corpus). */
export async function studyFamily(config: StudyConfig): Promise<TaskFamily | WordNetFamily> {
  return config.tasks === 'wordnet' ? generateWordNetFamily(await readCorpus(), config.family) : generateFamily(config.family);
}
