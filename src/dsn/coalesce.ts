// Recipients of one message whose outcomes become known together get one report (RFC 3461 §5.2.8): Haraka delivers a
// message as one queue file per destination domain, each with its own hooks, so outcomes are gathered per key for a
// short window and then handed over at once. Pure: the timer is injected.

export type Schedule = (fn: () => void, ms: number) => { cancel(): void }

export class Coalescer<T> {
  private readonly pending = new Map<string, { items: T[]; timer: { cancel(): void } }>()

  /**
   * @param windowMs how long after the first item of a key the batch is flushed
   * @param flush receives every item added under the key within the window, in order
   */
  constructor(
    readonly windowMs: number,
    private readonly schedule: Schedule,
    private readonly flush: (key: string, items: T[]) => void,
  ) {}

  add(key: string, item: T): void {
    const batch = this.pending.get(key)
    if (batch) {
      batch.items.push(item)
      return
    }
    const timer = this.schedule(() => this.release(key), this.windowMs)
    this.pending.set(key, { items: [item], timer })
  }

  /** Flushes every batch now (shutdown): nothing waiting is lost to a timer that never fires. */
  drain(): void {
    for (const [key, batch] of [...this.pending]) {
      batch.timer.cancel()
      this.release(key)
    }
  }

  get size(): number {
    return this.pending.size
  }

  private release(key: string): void {
    const batch = this.pending.get(key)
    if (!batch) return
    this.pending.delete(key)
    this.flush(key, batch.items)
  }
}
