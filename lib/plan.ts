/** A contiguous range of items, rows [start, end). */
export interface Chunk {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

/**
 * How many chunks of the tail we want per worker at least: with `auto`, no chunk is smaller than
 * `count / (workers * kTailChunksPerWorker)`, which bounds the number of messages for cheap items.
 */
export const kTailChunksPerWorker = 256;

/** With a measured item cost, no `auto` chunk is shorter than this, so messages stay a small part of the work. */
export const kMinChunkMs = 0.5;

/**
 * Cuts `count` items into chunks that workers take one after another.
 *
 * A fixed `chunkSize` gives equal chunks (the last one may be shorter). `'auto'` is guided
 * self-scheduling: each chunk takes `ceil(remaining / (2 × workers))` items, so chunks start large
 * (few messages) and shrink towards the end (no worker idles while another finishes a big chunk),
 * never below `max(1, floor(count / (workers × 256)))`. When the calling thread has measured what one
 * item costs (`itemNs`, given only when that cost was not growing), no chunk is shorter than 0.5 ms of work either (a message each way costs
 * tens of µs), though that floor never exceeds a quarter of a worker's share.
 *
 * Worked example: 1,000 items on 2 workers with `'auto'` (floor 1) gives 22 chunks of 250, 188, 141,
 * 106, 79, 59, 45, 33, 25, 19, 14, 11, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1 items. 1,000,000 items on 2 workers
 * (floor 1,953) give 21 chunks, from 250,000 down to 1,953, then the remaining 1,656; at a measured
 * 50 ns per item the floor is 10,000 items (0.5 ms), and there are 16 chunks.
 */
export function planChunks(count: number, workers: number, chunkSize: number | 'auto', itemNs?: number): Chunk[] {
  const chunks: Chunk[] = [];
  if (count === 0) return chunks;
  let minSize = chunkSize === 'auto' ? Math.max(1, Math.floor(count / (workers * kTailChunksPerWorker))) : chunkSize;
  if (chunkSize === 'auto' && itemNs !== undefined && itemNs > 0) {
    const worthAMessage = Math.min(Math.ceil((kMinChunkMs * 1e6) / itemNs), Math.ceil(count / (4 * workers)));
    minSize = Math.max(minSize, worthAMessage);
  }
  let start = 0;
  while (start < count) {
    const remaining = count - start;
    const size = chunkSize === 'auto' ? Math.max(minSize, Math.ceil(remaining / (2 * workers))) : chunkSize;
    const end = Math.min(count, start + size);
    chunks.push({ id: chunks.length, start, end });
    start = end;
  }
  return chunks;
}
