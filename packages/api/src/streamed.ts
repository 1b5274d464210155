import { z } from "zod";
import { createSchema } from "zod-openapi";

// A procedure's answer sent as a stream of JSON text (the GDPR export): the REST adapter and the
// web app's download route write its pieces as the client reads them, never the whole document.
export class StreamedJson {
  // Private: tRPC refuses an answer holding an async iterable in a non-streaming request.
  readonly #chunks: AsyncIterable<string>;
  // The REST route that streams it, e.g. "GET /api/v1/gdpr/export".
  readonly download: string;
  constructor(chunks: AsyncIterable<string>, download: string) {
    this.#chunks = chunks;
    this.download = download;
  }
  pieces(): AsyncIterator<string> {
    return this.#chunks[Symbol.asyncIterator]();
  }
  // tRPC's own HTTP transport answers JSON in one piece and cannot carry a stream: a client there
  // is sent to the REST route, which streams.
  toJSON() {
    return { streamed: true, download: this.download };
  }
}

// The output schema of a streamed procedure: validation checks that a stream is returned; the
// OpenAPI document shows `documented`, the shape of the JSON the stream carries.
export function streamedJson(documented: z.ZodType) {
  const { schema } = createSchema(documented, { io: "output" });
  return z
    .custom<StreamedJson>((value) => value instanceof StreamedJson)
    .meta({ override: ({ jsonSchema }) => Object.assign(jsonSchema, schema) });
}

// The stream as a web ReadableStream that reads a piece only when the last one was taken (the
// HTTP server waits for the socket to drain before taking the next). An error after the first
// piece is passed to `onError` (report it; the REST adapter also cuts the connection there, so
// the client sees a failed transfer), then errors the stream with a message that tells nothing
// about the cause: @hono/node-server (2.1.9) destroys the response on a stream error, so the web
// download's transfer fails too. Either way the JSON the client holds lacks its closing brace and
// does not parse.
export function readableOf(streamed: StreamedJson, onError: (error: unknown) => void): ReadableStream<Uint8Array> {
  const pieces = streamed.pieces();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await pieces.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (error) {
          onError(error);
          controller.error(new Error("the export stopped before its end"));
        }
      },
      async cancel() {
        await pieces.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
