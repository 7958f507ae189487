/**
 * The runtime contract (test/_contract.ts) against the Bun-native adapter.
 */
import { bunRuntime } from "../src/runtime/bun.ts";
import { contractSuite } from "./_contract.ts";

// Known gaps (ContractGap): none. Add one here by name, e.g. ["udp-icmp"], never delete a test.
contractSuite(bunRuntime, []);
