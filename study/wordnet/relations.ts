/**
 * How a source's classes stand to a target's, read off their lexicographer files alone (a class is
 * its files joined by `+`, as the tasks label it). The family builds each source from one target by
 * one relation (tasks.ts); this names the relation of every (source, target) pair, built so or not:
 * - `share`: the same classes;
 * - `split`: the same files, the source's classes finer (it tells apart what the target merges);
 * - `merge`: the same files, the source's classes coarser (it merges what the target tells apart);
 * - `miss`: all of the target's classes but one, and a class of files the target does not use;
 * - `overlap`: some files in common, in any other way;
 * - `disjoint`: no file in common.
 */
export const PAIR_RELATIONS = ['share', 'split', 'merge', 'miss', 'overlap', 'disjoint'] as const;
export type PairRelation = (typeof PAIR_RELATIONS)[number];

const filesOf = (label: string) => label.split('+');

/** Every file of class `inner` is in class `outer`. */
const within = (inner: string, outer: string) => filesOf(inner).every((file) => filesOf(outer).includes(file));

export function pairRelation(source: readonly string[], target: readonly string[]): PairRelation {
  const sourceFiles = new Set(source.flatMap(filesOf));
  const targetFiles = [...new Set(target.flatMap(filesOf))];
  const common = targetFiles.filter((f) => sourceFiles.has(f));
  if (common.length === 0) return 'disjoint';
  if (source.length === target.length && source.every((c) => target.includes(c))) return 'share';
  const targetCovered = common.length === targetFiles.length;
  // Each source class within a target class, over the same files.
  if (targetCovered && sourceFiles.size === targetFiles.length && source.every((c) => target.some((t) => within(c, t)))) return 'split';
  // Each target class within a source class, and some source class holding two of them (other source classes may be added).
  if (targetCovered && target.every((t) => source.some((c) => within(t, c))) && source.some((c) => target.filter((t) => within(t, c)).length >= 2))
    return 'merge';
  const kept = target.filter((c) => source.includes(c));
  const foreign = source.filter((c) => filesOf(c).every((file) => !targetFiles.includes(file)));
  if (source.length === target.length && kept.length === target.length - 1 && foreign.length === 1) return 'miss';
  return 'overlap';
}
