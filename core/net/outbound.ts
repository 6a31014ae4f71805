/**
 * Outbound calls to addresses a user gave (database hosts, REST sources):
 * the host is resolved here and every address it resolves to is checked.
 * Database drivers then connect to the checked address itself, so a name that
 * resolves differently a moment later (DNS rebinding) cannot reach what was
 * refused; HTTP sources are checked again on every redirect.
 *
 * Refused always: link-local (169.254.0.0/16 and fe80::/10, where cloud
 * metadata lives), unspecified and multicast addresses. Refused unless
 * `Config.outboundAllow()` lists them: loopback, private (RFC 1918, unique
 * local) and carrier-grade NAT, also when written as IPv4-mapped IPv6. The local runtime and the
 * tests allow loopback explicitly.
 */
export * as Outbound from "./outbound";

import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { Config } from "../config";
import { DomainError } from "../error";

const NEVER = new BlockList();
NEVER.addSubnet("169.254.0.0", 16, "ipv4");
NEVER.addSubnet("0.0.0.0", 8, "ipv4");
NEVER.addSubnet("224.0.0.0", 3, "ipv4");
NEVER.addSubnet("fe80::", 10, "ipv6");
NEVER.addSubnet("ff00::", 8, "ipv6");
NEVER.addAddress("::", "ipv6");
// fd00:ec2::254 is the metadata service over IPv6.
NEVER.addAddress("fd00:ec2::254", "ipv6");

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ["10.0.0.0", 8],
  ["127.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["100.64.0.0", 10],
  ["198.18.0.0", 15],
] as const) {
  PRIVATE.addSubnet(network, prefix, "ipv4");
}
PRIVATE.addAddress("::1", "ipv6");
PRIVATE.addSubnet("fc00::", 7, "ipv6");

let allowList: BlockList | undefined;

/** The configured exceptions (CIDRs such as `127.0.0.0/8,10.20.0.0/16`). */
function allowed(): BlockList {
  if (allowList) return allowList;
  allowList = new BlockList();
  for (const entry of Config.outboundAllow()) {
    const [network, prefix] = entry.split("/");
    const family = isIP(network ?? "") === 6 ? "ipv6" : "ipv4";
    if (!network || !isIP(network)) continue;
    if (prefix === undefined) allowList.addAddress(network, family);
    else allowList.addSubnet(network, Number(prefix), family);
  }
  return allowList;
}

const refused = (host: string, address: string, reason: string) =>
  new DomainError("invalid", "connector.address_not_allowed", `${host} is not an address Flint may connect to (${reason})`, { host, address });

/** Why `address` may not be called, or undefined when it may. */
export function refusal(address: string): string | undefined {
  // An IPv4-mapped IPv6 address is its IPv4 address (BlockList would match every IPv4 against ::ffff:0:0/96).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return refusal(mapped[1]!);
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  if (NEVER.check(address, family)) return "link-local, metadata, unspecified or multicast address";
  if (PRIVATE.check(address, family) && !allowed().check(address, family)) return "loopback or private network address";
  return undefined;
}

/**
 * Resolves `host` and checks every address it has.
 * @returns the first address, to connect to instead of the name
 * @throws connector.address_not_allowed (400) for a refused address,
 *   connector.cannot_connect (502) for a name that does not resolve
 */
export async function resolve(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(bare)) addresses = [bare];
  else {
    try {
      addresses = (await lookup(bare, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch (error) {
      throw new DomainError("upstream", "connector.cannot_connect", `Cannot resolve host ${host}`, {
        host,
        reason: (error as NodeJS.ErrnoException).code ?? "lookup failed",
      });
    }
  }
  for (const address of addresses) {
    const reason = refusal(address);
    if (reason) throw refused(host, address, reason);
  }
  return addresses[0]!;
}

/**
 * A URL of a user's HTTP source, checked: http(s) only, no credentials in it,
 * and its host resolving to allowed addresses only.
 * @throws connector.invalid_url (400), connector.address_not_allowed (400), connector.cannot_connect (502)
 */
export async function checkUrl(value: string): Promise<URL> {
  if (!URL.canParse(value)) throw new DomainError("invalid", "connector.invalid_url", "The URL is not an absolute URL", { url: value });
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new DomainError("invalid", "connector.invalid_url", "The URL must use http or https", { protocol: url.protocol });
  }
  if (url.username || url.password) {
    throw new DomainError("invalid", "connector.invalid_url", "Put credentials in their own fields, not in the URL");
  }
  await resolve(url.hostname);
  return url;
}

/**
 * fetch with the outbound checks on the URL and on every redirect it is sent
 * to (at most 3), and a deadline.
 * @throws what checkUrl throws; connector.timeout (504) past the deadline;
 *   connector.cannot_connect (502) when nothing answers
 */
export async function checkedFetch(value: string, init: RequestInit & { timeoutMs: number }): Promise<Response> {
  const { timeoutMs, ...rest } = init;
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(rest.signal ? [rest.signal] : [])]);
  let url = await checkUrl(value);
  for (let hop = 0; hop <= 3; hop++) {
    let response: Response;
    try {
      response = await fetch(url, { ...rest, redirect: "manual", signal });
    } catch (error) {
      if ((error as Error).name === "TimeoutError") {
        throw new DomainError("timeout", "connector.timeout", `${url.host} did not answer within ${Math.round(timeoutMs / 1000)} s`, { host: url.host });
      }
      const cause = (error as { cause?: { code?: string } }).cause;
      throw new DomainError("upstream", "connector.cannot_connect", `Cannot connect to ${url.host}`, { host: url.host, reason: cause?.code ?? "connection failed" });
    }
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return response;
    await response.body?.cancel();
    url = await checkUrl(new URL(location, url).toString());
  }
  throw new DomainError("upstream", "connector.cannot_connect", "Too many redirects", { host: url.host });
}
