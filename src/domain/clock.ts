/** The one clock: epoch milliseconds. The app builds it once; tests hand in one they can move. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
