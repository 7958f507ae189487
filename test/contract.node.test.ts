/**
 * The runtime contract (test/_contract.ts) against the node:net / node:dgram
 * adapter, here running on Bun's implementation of those modules.
 */
import { nodeRuntime } from "../src/runtime/node.ts";
import { contractSuite } from "./_contract.ts";

// Known gaps (ContractGap): none. Add one here by name, e.g. ["udp-icmp"], never delete a test.
contractSuite(nodeRuntime, []);
