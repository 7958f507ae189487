/**
 * The process environment, readable on every runtime.
 *
 * Deno without --allow-env throws NotCapable on any process.env read, and
 * picocolors reads it as soon as it loads. sockdemo promises that
 * `deno run --allow-net` is enough, so without env permission we present an
 * empty environment instead (NO_COLOR, FORCE_COLOR and SOCKDEMO_RUNTIME are
 * then unset). Import this module before anything that reads the environment.
 */
interface DenoPermissions {
  permissions?: { querySync?(descriptor: { name: "env" }): { state: string } };
}

const deno = (globalThis as { Deno?: DenoPermissions }).Deno;
if (deno && deno.permissions?.querySync?.({ name: "env" }).state !== "granted") {
  Object.defineProperty(globalThis.process, "env", {
    value: {},
    configurable: true,
    writable: true,
  });
}

export const env: Record<string, string | undefined> = process.env;
