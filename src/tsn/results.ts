// Lists of Results, as the writer and reader produce them per field, recipient group and part.
import { err, ok, type Result } from '../util/result'

/**
 * Applies `fn` to each item in order and stops at the first error, which is prefixed with `label(index)`
 * when a label is given, so that messages say which recipient or part failed.
 */
export function mapAll<T, U>(
  items: readonly T[],
  fn: (item: T) => Result<U>,
  label?: (index: number) => string,
): Result<U[]> {
  const out: U[] = []
  for (const [i, item] of items.entries()) {
    const result = fn(item)
    if (!result.ok) return label ? err(`${label(i)}: ${result.error}`) : result
    out.push(result.value)
  }
  return ok(out)
}
