import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prepareInput } from '../lib/input.ts';
import { Job, kQueueBehindMs } from '../lib/job.ts';
import { MessageType } from '../lib/protocol.ts';

function jobOver(data: unknown, chunkRows: number): Job {
  const input = prepareInput(data);
  const job = new Job({ input, fn: { kind: 'inline', source: '(x) => x' }, context: undefined, cores: 2, collect: false, keepValues: false });
  const chunks = Array.from({ length: Math.ceil(input.count / chunkRows) }, (_, id) => ({ id, start: id * chunkRows, end: Math.min(input.count, (id + 1) * chunkRows) }));
  job.enqueue(chunks, 0);
  return job;
}

/** Item costs, in ns, at which exactly `rows` rows make kQueueBehindMs of work. */
const nsFor = (rows: number) => (kQueueBehindMs * 1e6) / rows;

describe('Job: what may wait in a busy worker\'s queue', () => {
  test('shared-memory items: nothing before their cost is known, then kQueueBehindMs of work', () => {
    const job = jobOver(new Float64Array(1000), 100);
    assert.equal(job.queueableRows, 0);
    job.itemNs = nsFor(40);
    assert.equal(job.queueableRows, 40);
    job.itemNs = 2 * kQueueBehindMs * 1e6; // one item is longer than the limit
    assert.equal(job.queueableRows, 0);
  });

  test('the last chunk a worker ran replaces the calling thread\'s measure, up or down', () => {
    const job = jobOver(new Float64Array(1000), 100);
    job.itemNs = nsFor(100);
    const done = (ms: number) => {
      const chunk = job.takeChunk();
      job.chunkDone({ type: MessageType.CHUNK_DONE, jobId: job.id, chunkId: chunk.chunkId, cols: 1, values: new Float64Array(chunk.end - chunk.start), inPlace: false, failures: [], ms });
    };
    done(4 * kQueueBehindMs); // 100 rows took 4 times the limit
    assert.equal(job.queueableRows, 25);
    done(kQueueBehindMs / 2);
    assert.equal(job.queueableRows, 200);
  });

  test('the threads\' cost per item over a call is their time over their rows, not the last chunk\'s', () => {
    const job = jobOver(new Float64Array(1000), 100);
    assert.equal(job.threadItemNs, undefined, 'no chunk done yet');
    job.itemNs = 5; // the calling thread's measure is not the threads'
    assert.equal(job.threadItemNs, undefined);
    for (const ms of [10, 10, 1]) {
      const chunk = job.takeChunk();
      job.chunkDone({ type: MessageType.CHUNK_DONE, jobId: job.id, chunkId: chunk.chunkId, cols: 1, values: new Float64Array(chunk.end - chunk.start), inPlace: false, failures: [], ms });
    }
    assert.equal(job.threadItemNs, (21 * 1e6) / 300);
  });

  test('Array items may always wait: their next chunk is packed or cloned while the current one runs', () => {
    const job = jobOver(Array.from({ length: 1000 }, (_, i) => ({ i })), 100);
    assert.equal(job.queueableRows, Infinity);
    job.itemNs = nsFor(1);
    assert.equal(job.queueableRows, Infinity);
  });

  test('isShort tells a chunk that may wait from one that may not', () => {
    const job = jobOver(new Float64Array(1000), 100);
    job.itemNs = nsFor(50);
    assert.equal(job.isShort(job.takeChunk(50)), true);
    assert.equal(job.isShort(job.takeChunk()), true, 'the other half of the split chunk');
    assert.equal(job.isShort(job.takeChunk()), false);
  });

  test('isShort is decided when the chunk is sent: later costs do not change it', () => {
    const job = jobOver(new Float64Array(1000), 100);
    const unknown = job.takeChunk(); // sent before any cost was known
    job.itemNs = nsFor(1000);
    assert.equal(job.isShort(unknown), false, 'even though 100 rows now look short');
    const known = job.takeChunk();
    assert.equal(job.isShort(known), true);
    job.itemNs = nsFor(1);
    assert.equal(job.isShort(known), true, 'and stays short when items turn costly');
  });

  test('takeChunk(maxRows) splits the next chunk, and every row still goes out once, in order', () => {
    const job = jobOver(new Float64Array(250), 100);
    const taken = [job.takeChunk(30), job.takeChunk(), job.takeChunk(200), job.takeChunk(10), job.takeChunk(10), job.takeChunk()];
    assert.deepEqual(taken.map((chunk) => [chunk.start, chunk.end]), [[0, 30], [30, 100], [100, 200], [200, 210], [210, 220], [220, 250]]);
    assert.equal(new Set(taken.map((chunk) => chunk.chunkId)).size, taken.length, 'each piece is a chunk of its own');
    assert.equal(job.queuedChunks, 0);
  });
});
