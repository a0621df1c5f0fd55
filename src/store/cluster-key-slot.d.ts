// cluster-key-slot 1.1 (ioredis' own slot function) ships no types; the one function used here.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0..16383) of a key: CRC16 of its hash tag `{...}`, or of the whole key. */
  function calculateSlot(key: string): number
  export = calculateSlot
}
