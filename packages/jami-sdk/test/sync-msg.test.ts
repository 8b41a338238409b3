import { decodeMsgpack, encodeMsgpack } from "jami-core";
import { encodeSyncMsg, readSyncMsg } from "../src/dht/sync-msg.js";

/**
 * `SyncMsg`'s member statuses: jamid 13.7 reads displayed marks in its fifth element `ld` (`MSGPACK_DEFINE(ds, c, cr,
 * p, ld)` in 13.7's conversation_module.h), today's daemons read `ms`, the sixth. One message carries both.
 */
describe("SyncMsg member statuses (13.7's ld, today's ms)", () => {
  const conv = "a".repeat(40);
  const friend = "b".repeat(40);
  const us = "c".repeat(40);
  const [m1, m2] = ["1".repeat(40), "2".repeat(40)];

  it("without statuses: 13.7's four elements, as before", () => {
    expect((decodeMsgpack(encodeSyncMsg({ conversations: {} })) as unknown[]).length).toBe(4);
  });

  it("with statuses: [ds, c, cr, p, ld, ms] in each daemon's layout, every value a string", () => {
    const bytes = encodeSyncMsg({
      statuses: { [conv]: { [friend]: { fetched: m2, fetchedAt: 1700000100, read: m1, readAt: 1700000050 }, [us]: { read: m2, readAt: 1700000200 } } },
    });
    const [, c, cr, p, ld, ms] = decodeMsgpack(bytes) as unknown[];
    expect([c, cr, p]).toEqual([{}, {}, {}]);
    expect(ld).toEqual({ [conv]: { [friend]: m1, [us]: m2, lastModified: "1700000200" } });
    expect(ms).toEqual({
      [conv]: { [friend]: { fetched: m2, fetched_ts: "1700000100", read: m1, read_ts: "1700000050" }, [us]: { read: m2, read_ts: "1700000200" } },
    });
  });

  it("reads what it writes", () => {
    const statuses = { [conv]: { [friend]: { fetched: m2, fetchedAt: 5, read: m1, readAt: 4 } } };
    expect(readSyncMsg(decodeMsgpack(encodeSyncMsg({ statuses })))!.statuses).toEqual(statuses);
  });

  it("13.7's ld alone: each mark dated by the map's lastModified (0 without one)", () => {
    const msg = readSyncMsg([{}, {}, {}, {}, { [conv]: { [friend]: m1, lastModified: "1700000000" }, [m2]: { [us]: m1 } }]);
    expect(msg!.statuses).toEqual({ [conv]: { [friend]: { read: m1, readAt: 1700000000 } }, [m2]: { [us]: { read: m1, readAt: 0 } } });
  });

  it("ms over ld for the same member; bad ids, commits, times and a commit without its time are skipped", () => {
    const msg = readSyncMsg(
      decodeMsgpack(
        encodeMsgpack([
          {},
          {},
          {},
          {},
          { [conv]: { [friend]: m1, lastModified: "10" } },
          {
            [conv]: {
              [friend]: { read: m2, read_ts: "20" },
              [us]: { fetched: m1 }, // no time: skipped, as jamid's reader needs both
              [m1]: { read: "not a commit", read_ts: "5" },
              "not-an-account": { read: m1, read_ts: "5" },
            },
            "not-a-conversation": { [friend]: { read: m1, read_ts: "5" } },
            [m2]: { [friend]: { read: m1, read_ts: "-1" } },
          },
        ]),
      ),
    );
    expect(msg!.statuses).toEqual({ [conv]: { [friend]: { read: m2, readAt: 20 } } });
  });
});
