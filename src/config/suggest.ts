// "did you mean ...?" for misspelt option and section names. Pure.

/** Edit distance where a swap of two neighbours counts one (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  let before: number[] = []
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, before[j - 2]! + 1)
      row.push(best)
    }
    before = prev
    prev = row
  }
  return prev[b.length]!
}

/** The candidate `word` is most likely a typo of: at most 2 edits away, and fewer than half its length. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined
  for (const name of candidates) {
    const distance = editDistance(word.toLowerCase(), name)
    if (distance <= 2 && distance < word.length / 2 && (best === undefined || distance < best.distance)) {
      best = { name, distance }
    }
  }
  return best?.name
}
