/** @internal The process's distributed state, set by init(). */
export const state = { initialized: false, finalized: false, rank: 0, worldSize: 1 };
