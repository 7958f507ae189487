import { _familyOf, _toSocketError } from "./_shared.ts";
import type { AddressFamily } from "./types.ts";

export interface Resolved {
  /** The address sockdemo will actually use. */
  address: string;
  family: AddressFamily;
  /** Every address the name resolved to, in the order tried by preference. */
  all: string[];
  /** True when `host` was already a numeric address. */
  literal: boolean;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** 4 or 6 for a numeric address, 0 otherwise (node:net's isIP, without loading node:net). */
export function isIP(text: string): 0 | 4 | 6 {
  if (IPV4.test(text)) return 4;
  if (!text.includes(":") || !/^[\da-fA-F:.%\w]+$/.test(text)) return 0;
  // URL's parser is the platform's own IPv6 validator.
  return URL.canParse(`http://[${text.split("%")[0]}]/`) ? 6 : 0;
}

/**
 * Resolve a host name to one numeric address, chosen here rather than by the
 * runtime: Bun.connect tries ::1 and 127.0.0.1 for `localhost`, node:net picks
 * one, and Bun.udpSocket does no DNS at all. IPv4 comes first, as in the
 * tutorial, unless `prefer` says otherwise.
 */
export async function resolveHost(host: string, prefer: AddressFamily = "IPv4"): Promise<Resolved> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare)) return { address: bare, family: _familyOf(bare), all: [bare], literal: true };
  let found: { address: string; family: number }[];
  try {
    // Loaded only for names: numeric addresses, the common case, need no DNS.
    const { lookup } = await import("node:dns/promises");
    found = await lookup(bare, { all: true });
  } catch (error) {
    throw _toSocketError(error, "resolve", { host: bare, port: 0 });
  }
  const all = [...new Set(found.map((a) => a.address))];
  const wanted = prefer === "IPv4" ? 4 : 6;
  all.sort((a, b) => Number(isIP(b) === wanted) - Number(isIP(a) === wanted));
  const address = all[0];
  if (address === undefined) {
    throw _toSocketError(
      Object.assign(new Error("no addresses"), { code: "ENOTFOUND" }),
      "resolve",
      {
        host: bare,
        port: 0,
      },
    );
  }
  return { address, family: _familyOf(address), all, literal: false };
}

/** The wildcard address of a family, for sockets that only send. */
export function wildcardFor(family: AddressFamily): string {
  return family === "IPv6" ? "::" : "0.0.0.0";
}
