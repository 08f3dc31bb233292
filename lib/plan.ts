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

/**
 * Cuts `count` items into chunks that workers take one after another.
 *
 * A fixed `chunkSize` gives equal chunks (the last one may be shorter). `'auto'` is guided
 * self-scheduling: each chunk takes `ceil(remaining / (2 × workers))` items, so chunks start large
 * (few messages) and shrink towards the end (no worker idles while another finishes a big chunk),
 * never below `max(1, floor(count / (workers × 256)))`.
 *
 * Worked example: 1,000 items on 2 workers with `'auto'` (floor 1) gives 22 chunks of 250, 188, 141,
 * 106, 79, 59, 45, 33, 25, 19, 14, 11, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1 items. 1,000,000 items on 2 workers
 * (floor 1,953) give 21 chunks, from 250,000 down to 1,953.
 */
export function planChunks(count: number, workers: number, chunkSize: number | 'auto'): Chunk[] {
  const chunks: Chunk[] = [];
  if (count === 0) return chunks;
  const minSize = chunkSize === 'auto' ? Math.max(1, Math.floor(count / (workers * kTailChunksPerWorker))) : chunkSize;
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
