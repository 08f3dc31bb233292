import { kThreadStartMs } from './here-or-threads.js';

/**
 * When a pool starts threads that no call asked for. A call with less work than a thread start
 * stays on the calling thread while the pool has no threads, so without this a pool whose calls
 * each cost ~1–50 ms never started its threads and ran every call on one core. Starting them at
 * the first such call lost for pools making few calls (3 calls: 158 against 79 ms). So we add up
 * what each call finished on the calling thread would have saved on running threads, and start
 * them once that reaches what a start costs (kThreadStartMs): the rent-or-buy rule, which never
 * pays more than about twice the better choice made in hindsight.
 */
export class WarmUp {
  /** Ms that calls would have saved on running threads, since threads were last started. */
  #forgoneMs = 0;
  /** A thread could not be started, or died by itself: starting more would likely fail again. */
  #gaveUp = false;

  /**
   * Counts what a call finished on the calling thread would have saved on running threads; true
   * when the pool should start its threads now (`canStart`: it is open and has no threads).
   */
  forgo(ms: number, canStart: boolean): boolean {
    this.#forgoneMs += ms;
    if (this.#forgoneMs < kThreadStartMs || this.#gaveUp || !canStart) return false;
    this.#forgoneMs = 0;
    return true;
  }

  /** From now on, start no thread that no call asked for (a call that needs threads still starts them). */
  giveUp(): void {
    this.#gaveUp = true;
  }
}
