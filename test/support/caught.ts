// Assertion helper for rejected promises.
/** The rejection of `p` (fails the test when `p` resolves). */
export async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to reject, but it resolved");
}
