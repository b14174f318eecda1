import type { PartOfSpeech, Synset } from '../study/wordnet/corpus.js';

/**
 * WordNet 3.0's database files (data.noun, data.verb, data.adj, data.adv) as wndb(5WN) describes them:
 *   synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id…] p_cnt [ptr…] [frames…] | gloss
 * with w_cnt in hexadecimal, p_cnt in decimal, each pointer `symbol offset pos source/target`, and
 * verb frames (`f_cnt + f_num w_num …`) after the pointers. Lines starting with two spaces are the
 * licence header.
 */

/** The lexicographer files by number, as lexnames(5WN) lists them (the database has no lexnames file). */
export const LEXNAMES = [
  'adj.all',
  'adj.pert',
  'adv.all',
  'noun.Tops',
  'noun.act',
  'noun.animal',
  'noun.artifact',
  'noun.attribute',
  'noun.body',
  'noun.cognition',
  'noun.communication',
  'noun.event',
  'noun.feeling',
  'noun.food',
  'noun.group',
  'noun.location',
  'noun.motive',
  'noun.object',
  'noun.person',
  'noun.phenomenon',
  'noun.plant',
  'noun.possession',
  'noun.process',
  'noun.quantity',
  'noun.relation',
  'noun.shape',
  'noun.state',
  'noun.substance',
  'noun.time',
  'verb.body',
  'verb.change',
  'verb.cognition',
  'verb.communication',
  'verb.competition',
  'verb.consumption',
  'verb.contact',
  'verb.creation',
  'verb.emotion',
  'verb.motion',
  'verb.perception',
  'verb.possession',
  'verb.social',
  'verb.stative',
  'verb.weather',
  'adj.ppl',
] as const;

/** The data files and the part of speech their synsets have. */
export const DATA_FILES: readonly { readonly file: string; readonly pos: PartOfSpeech }[] = [
  { file: 'data.noun', pos: 'noun' },
  { file: 'data.verb', pos: 'verb' },
  { file: 'data.adj', pos: 'adj' },
  { file: 'data.adv', pos: 'adv' },
];

/** `;c`: "Domain of synset - TOPIC" (wninput(5WN)). */
const TOPIC_DOMAIN = ';c';

export interface Pointer {
  readonly symbol: string;
  /** The target synset's id (`offset-pos`). */
  readonly target: string;
}

/** One line of a data file, parsed. */
export interface DataLine {
  readonly id: string;
  readonly lexname: string;
  readonly words: readonly string[];
  readonly pointers: readonly Pointer[];
  readonly gloss: string;
}

/** Synset type letters of pointers: `s` (adjective satellite) targets live in data.adj like `a`. */
const pointerId = (offset: string, pos: string) => `${offset}-${pos}`;

/** A word as written in the data file: underscores for spaces, adjectives' syntactic marker `(a)`, `(p)` or `(ip)` appended. */
export function cleanWord(word: string): string {
  return word.replace(/\((a|p|ip)\)$/, '').replaceAll('_', ' ');
}

export function parseDataLine(line: string): DataLine {
  const bar = line.indexOf(' | ');
  if (bar < 0) throw new Error(`no gloss separator in "${line.slice(0, 40)}…"`);
  const fields = line.slice(0, bar).trim().split(' ');
  const [offset, lexFile, ssType, wordCount] = fields;
  const lexname = LEXNAMES[Number.parseInt(lexFile, 10)];
  if (!lexname) throw new Error(`${offset}: lexicographer file ${lexFile} is not in lexnames(5WN)`);
  let at = 4;
  const words: string[] = [];
  for (let w = 0; w < Number.parseInt(wordCount, 16); w++, at += 2) words.push(cleanWord(fields[at]));
  const pointers: Pointer[] = [];
  const pointerCount = Number.parseInt(fields[at++], 10);
  for (let p = 0; p < pointerCount; p++, at += 4)
    pointers.push({ symbol: fields[at], target: pointerId(fields[at + 1], fields[at + 2] === 's' ? 'a' : fields[at + 2]) });
  return { id: pointerId(offset, ssType), lexname, words, pointers, gloss: line.slice(bar + 3).trim() };
}

/**
 * A gloss split into its definition and its usage examples. Glosses read `definition; "example";
 * "example"`, sometimes with several definitions, an attribution after an example (`"…" - Shakespeare`)
 * or a quoted word inside a definition. Segments are cut at semicolons outside quotes; a segment that
 * starts with a quote is an example (up to its last quote), the others are joined back into the definition.
 */
export function splitGloss(gloss: string): { definition: string; examples: string[] } {
  const segments: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < gloss.length; i++) {
    if (gloss[i] === '"') quoted = !quoted;
    else if (gloss[i] === ';' && !quoted) {
      segments.push(gloss.slice(start, i));
      start = i + 1;
    }
  }
  segments.push(gloss.slice(start));
  const definition: string[] = [];
  const examples: string[] = [];
  for (const raw of segments) {
    const segment = raw.trim();
    if (segment === '') continue;
    if (segment.startsWith('"')) {
      const close = segment.lastIndexOf('"');
      const example = (close > 0 ? segment.slice(1, close) : segment.slice(1)).trim();
      if (example !== '') examples.push(example);
    } else definition.push(segment);
  }
  return { definition: definition.join('; '), examples };
}

/**
 * The corpus rows of the parsed data lines, in file order: a synset's topic domains are the first
 * words of the synsets its `;c` pointers name.
 */
export function toSynsets(lines: readonly { readonly pos: PartOfSpeech; readonly line: DataLine }[]): Synset[] {
  const firstWord = new Map(lines.map(({ line }) => [line.id.replace(/-s$/, '-a'), line.words[0]]));
  return lines.map(({ pos, line }) => {
    const { definition, examples } = splitGloss(line.gloss);
    const domains = line.pointers
      .filter((p) => p.symbol === TOPIC_DOMAIN)
      .map((p) => {
        const word = firstWord.get(p.target);
        if (word === undefined) throw new Error(`${line.id}: domain pointer to ${p.target}, which is not in the data files`);
        return word;
      });
    return { id: line.id, pos, lexname: line.lexname, domains: [...new Set(domains)], lemmas: [...new Set(line.words)], definition, examples };
  });
}
