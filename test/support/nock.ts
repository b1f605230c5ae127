// Broker HTTP in tests: no real network (loopback stays open for our own servers), and every mocked call must be made.
import nock from "nock";
import { afterEach, beforeAll, expect } from "vitest";

/** Installs the nock guards for a test file; `what` names the API in the failure message. */
export function interceptBrokerHttp(what: string): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending, `every mocked ${what} call was made`).toEqual([]);
  });
}
