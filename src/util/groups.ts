// Splitting a sequence into groups by a key, for sending each group in one call.

/**
 * `items` in groups of one key each, at most `max` items per group (a key with more gets several groups), every
 * item once, in the input's order within each group. Groups filled to `max` come first, in the order they filled.
 */
export function groupsBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K, max: number): T[][] {
  const open = new Map<K, T[]>()
  const full: T[][] = []
  for (const item of items) {
    const key = keyOf(item)
    let group = open.get(key)
    if (!group) {
      group = []
      open.set(key, group)
    }
    group.push(item)
    if (group.length >= max) {
      full.push(group)
      open.delete(key)
    }
  }
  return [...full, ...open.values()]
}
