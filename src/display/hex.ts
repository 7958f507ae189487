/**
 * The canonical hex dump (`hexdump -C`, `xxd`-like): offset, sixteen bytes in
 * two groups of eight, and an ASCII gutter where anything outside printable
 * ASCII is a dot — so, like the bytes literal, nothing reaches the terminal raw.
 */

/** Two hex digits per byte value; built on first use (only --hex needs it), not at start-up. */
let hexPairs: string[] | undefined;

function gutterChar(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".";
}

/**
 * Dump `bytes` as lines of 16. `offset` is where these bytes start in the
 * stream (a connection's byte count so far), so successive chunks continue
 * the numbering.
 */
export function hexDump(bytes: Uint8Array, offset = 0): string[] {
  hexPairs ??= Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
  const hex2 = hexPairs;
  const lines: string[] = [];
  for (let start = 0; start < bytes.length; start += 16) {
    const row = bytes.subarray(start, Math.min(start + 16, bytes.length));
    let hex = "";
    let ascii = "";
    for (let i = 0; i < 16; i++) {
      const byte = row[i];
      hex += byte === undefined ? "   " : `${hex2[byte]} `;
      if (i === 7) hex += " ";
      if (byte !== undefined) ascii += gutterChar(byte);
    }
    lines.push(`${(offset + start).toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  return lines;
}
