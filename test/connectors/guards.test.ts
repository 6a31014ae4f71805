/**
 * The two checks every import passes before a byte leaves: the SQL a user
 * gives is one read-only SELECT, and the address a source names is not one
 * Flint may not reach (cloud metadata, link-local, private networks unless
 * allowed: the test runtime allows loopback only).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Outbound } from "../../core/net/outbound";
import { singleSelect } from "../../core/connector/sql";

describe("singleSelect", () => {
  it("takes one SELECT or WITH query, comments, literals and a trailing semicolon included", () => {
    for (const query of [
      "SELECT * FROM readings",
      "select ts, supply_temp from readings where ts > '2026-01-01' order by ts;",
      "WITH recent AS (SELECT * FROM readings WHERE ts > now() - interval '1 day') SELECT * FROM recent",
      "SELECT replace(name, 'a', 'b') AS name, \"update\" FROM t -- update x set y = 1",
      "SELECT 'DROP TABLE readings; DELETE FROM x' AS text_only",
      "(SELECT * FROM a) UNION (SELECT * FROM b)",
    ]) {
      expect(() => singleSelect(query), query).not.toThrow();
    }
    expect(singleSelect("SELECT 1;  ")).toBe("SELECT 1");
  });

  it("refuses writes, DDL, several statements and locking reads", () => {
    for (const query of [
      "DELETE FROM readings",
      "SELECT 1; DROP TABLE readings",
      "UPDATE readings SET supply_temp = 0",
      "WITH gone AS (DELETE FROM readings RETURNING *) SELECT * FROM gone",
      "SELECT * INTO backup FROM readings",
      "SELECT * FROM readings INTO OUTFILE '/tmp/x'",
      "SELECT * FROM readings FOR UPDATE",
      "INSERT INTO readings SELECT * FROM other",
      "CREATE TABLE x AS SELECT 1",
      "/* SELECT */ TRUNCATE readings",
    ]) {
      expect(() => singleSelect(query), query).toThrowError(expect.objectContaining({ code: "connector.not_select" }));
    }
  });

  it("never lets a second statement through, whatever comes before it", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9_ ,*()=<>]{0,40}$/), fc.constantFrom("DROP TABLE t", "DELETE FROM t", "UPDATE t SET a = 1", "SELECT 1"), (head, tail) => {
        expect(() => singleSelect(`SELECT ${head}; ${tail}`)).toThrow();
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("outbound addresses", () => {
  it("refuses metadata, link-local, unspecified, multicast and private networks; allows loopback here and public hosts", () => {
    const refused = ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "0.0.0.0", "::", "224.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.1.1", "100.64.0.1", "fc00::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"];
    for (const address of refused) expect(Outbound.refusal(address), address).toBeDefined();
    for (const address of ["127.0.0.1", "::1", "8.8.8.8", "2606:4700:4700::1111"]) expect(Outbound.refusal(address), address).toBeUndefined();
  });

  it("checks every address a name resolves to, and refuses a URL with credentials or another scheme", async () => {
    await expect(Outbound.resolve("localhost")).resolves.toMatch(/^(127\.0\.0\.1|::1)$/);
    await expect(Outbound.resolve("[fe80::1]")).rejects.toMatchObject({ code: "connector.address_not_allowed" });
    await expect(Outbound.checkUrl("http://user:pw@127.0.0.1/")).rejects.toMatchObject({ code: "connector.invalid_url" });
    await expect(Outbound.checkUrl("file:///etc/passwd")).rejects.toMatchObject({ code: "connector.invalid_url" });
    await expect(Outbound.checkUrl("http://169.254.169.254/latest/meta-data/")).rejects.toMatchObject({ code: "connector.address_not_allowed" });
  });
});
