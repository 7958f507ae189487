/**
 * The tutorial's tcp_client.py on Bun.connect and nothing else: connect to
 * 127.0.0.1:PORT, send b'Hello TCP', half-close, read until the server
 * closes, print the reply as a bytes literal. Its start line shows UTC, not
 * local time (local time costs Bun a time-zone set-up), and the literal is
 * not escaped: less than a correct client does. The bench compiles it with
 * the print-only floor's flags and times it next to sockdemo's tcp-client: the
 * least a one-shot client compiled with Bun takes on this machine.
 *
 *   bun build --compile bench/peers/bun-client.ts --outfile bun-client
 *   ./bun-client PORT
 */
const port = Number(process.argv[2]);
console.log("The client started at", new Date().toISOString());
const chunks: Uint8Array[] = [];
await new Promise<void>((resolve, reject) => {
  globalThis.Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(socket) {
        socket.write("Hello TCP");
        socket.shutdown();
      },
      data(_socket, chunk) {
        chunks.push(chunk);
      },
      close: () => resolve(),
      error: (_socket, error) => reject(error),
      connectError: (_socket, error) => reject(error),
    },
  });
});
console.log(`b'${Buffer.concat(chunks).toString("latin1")}'`);
