// Bounded waits for the operations: a step that may hang (Redis frozen, an S3 endpoint or Slack that never answers)
// is given up on after a time, so the kill switch's report and exit never wait on it.

/** Rejects with `<what> did not answer within <ms> ms` when `p` takes longer (the underlying call may still finish). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The message of anything thrown. */
export const message = (err: unknown): string => String((err as Error)?.message ?? err);
